//! Template components (synced from providers or typed by admins) and the text renderers
//! that fill `{{placeholders}}` in quick replies and bot answers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacrm_domain::{quick_reply, template};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(components) = serde_json::from_str::<serde_json::Value>(text) {
        let requirements = template::requirements(&components);
        let body: Vec<String> = (0..requirements.body_params)
            .map(|i| i.to_string())
            .collect();
        let _ = template::check(&requirements, None, &body, &[]);
    }
    let rendered = quick_reply::render(text, &|name: &str| Some(name.to_uppercase()));
    // A placeholder-free text renders to itself.
    if !text.contains("{{") {
        assert_eq!(rendered, text);
    }
});
