//! The phone normaliser reads what people type into forms and CSV files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacrm_domain::NormalizedPhone;
use wacrm_domain::matching::phone_variants;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line may name a default country, as the settings do.
    let (country, input) = text.split_once('\n').unwrap_or(("", text));
    let country = country.parse().ok();
    if let Ok(phone) = NormalizedPhone::parse(input, country) {
        assert!(phone.as_str().bytes().all(|b| b.is_ascii_digit()));
        let _ = phone_variants(phone.as_str());
        // Normalising a normalised number changes nothing.
        let again = NormalizedPhone::parse(&format!("+{}", phone.as_str()), None);
        assert_eq!(
            again.ok().as_ref().map(|p| p.as_str()),
            Some(phone.as_str())
        );
    }
});
