#![allow(dead_code, reason = "each test binary uses part of the support code")]

pub mod battery;
pub mod epp_server;
pub mod namecheap_server;

/// Runs every behaviour of the battery against the harness that `$setup` (an async
/// expression) builds.
#[macro_export]
macro_rules! battery {
    ($module:ident, $setup:expr) => {
        mod $module {
            use super::*;
            use $crate::support::battery as b;

            macro_rules! behaviour {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let h = $setup.await;
                        b::$name(&h).await;
                    }
                };
            }

            behaviour!(check_many_names);
            behaviour!(register_then_info_shows_the_registrars_expiry);
            behaviour!(registering_a_taken_name_is_a_definite_failure);
            behaviour!(renew_moves_expiry_by_exactly_one_term);
            behaviour!(transfer_with_the_right_auth_code_completes);
            behaviour!(transfer_with_a_wrong_auth_code_fails_clearly);
            behaviour!(nameserver_changes_show_in_info);
            behaviour!(contact_changes_show_in_info);
            behaviour!(lock_changes_show_in_info);
            behaviour!(privacy_changes_show_in_info);
            behaviour!(a_lost_response_is_an_unknown_outcome_and_info_tells_the_truth);
            behaviour!(errors_are_mapped);
            behaviour!(auth_code_is_secret);
            behaviour!(listing_shows_registered_domains);
            behaviour!(health_answers_and_hides_secrets);
        }
    };
}
