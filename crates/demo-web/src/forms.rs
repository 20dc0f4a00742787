//! Reading `application/x-www-form-urlencoded` bodies: the fields of this
//! app's own forms, by name (the first value of a repeated name).

use std::collections::HashMap;

/// A submitted form.
#[derive(Debug, Default)]
pub(crate) struct Form(HashMap<String, String>);

impl Form {
    /// The value of field `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The value of field `name`, trimmed, `None` when empty.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }
}

/// Parses a form body.
pub(crate) fn parse(body: &[u8]) -> Form {
    let mut fields = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        fields
            .entry(name.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    Form(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_value_wins_and_blanks_are_none() {
        let form = parse(b"csrf_token=a&csrf_token=b&name=+Deadpond+&age=");
        assert_eq!(form.get("csrf_token"), Some("a"));
        assert_eq!(form.text("name").as_deref(), Some("Deadpond"));
        assert_eq!(form.text("age"), None);
        assert_eq!(form.get("missing"), None);
    }
}
