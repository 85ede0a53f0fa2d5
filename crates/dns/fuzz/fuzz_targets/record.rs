//! Any `{name, type, ttl, content}`: parsing never panics, and an accepted record's
//! canonical content parses back to the same record.
#![no_main]

use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;
use panel1_dns::record::{RecordInput, RecordRules, parse_record};

const TYPES: &[&str] = &["A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NS", "PTR", "SRV", "SSHFP", "SVCB", "TLSA", "TXT"];

fuzz_target!(|data: (u8, u32, String, String)| {
    let (t, ttl, name, content) = data;
    let origin = Name::from_ascii("example.com.").unwrap();
    let rules = RecordRules::default();
    let input = RecordInput { name, rtype: TYPES[t as usize % TYPES.len()].into(), ttl: Some(ttl), content };
    if let Ok(r) = parse_record(&input, &origin, &rules, 3600) {
        let again = RecordInput {
            name: r.name.to_ascii(),
            rtype: r.record_type().to_string(),
            ttl: Some(r.ttl),
            content: r.content(),
        };
        let r2 = parse_record(&again, &origin, &rules, 3600).expect("canonical content parses");
        assert_eq!(r2, r);
    }
});
