//! Any text as a zone file: import never panics, and what it accepts exports to text
//! that imports again to the same records.
#![no_main]

use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;
use panel1_dns::record::RecordRules;
use panel1_dns::zonefile::{export_zone, import_zone};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let origin = Name::from_ascii("example.com.").unwrap();
    let rules = RecordRules::default();
    if let Ok(z) = import_zone(text, &origin, &rules) {
        let Some(soa) = z.soa else { return };
        let zone = panel1_dns::Zone { origin: origin.clone(), soa, records: z.records };
        let again = import_zone(&export_zone(&zone), &origin, &rules).expect("export re-imports");
        assert_eq!(again.records.len(), zone.records.len());
    }
});
