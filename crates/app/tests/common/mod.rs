pub mod killable;
