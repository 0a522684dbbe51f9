//! The normal forms in which values are compared: codes, names, phone numbers.

/// A phone number in E.164: `+` then digits. `00` and a national leading `0` are rewritten
/// with the country code; a number that cannot be made international is `None`.
pub fn e164(value: &str, country_code: Option<&str>) -> Option<String> {
    let trimmed = value.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let international = if trimmed.starts_with('+') {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else if let Some(national) = digits.strip_prefix('0') {
        format!("{}{national}", country_code?)
    } else if country_code.is_some_and(|c| digits.starts_with(c)) && digits.len() > 9 {
        digits
    } else {
        format!("{}{digits}", country_code?)
    };
    (8..=15)
        .contains(&international.len())
        .then(|| format!("+{international}"))
}

/// `Ștefan Élise` -> `Stefan Elise`.
pub fn fold_accents(text: &str) -> String {
    text.chars().flat_map(fold_accent).collect()
}

/// Latin letters with diacritics (French, Romanian, Portuguese...) -> their base letters.
pub fn fold_accent(c: char) -> impl Iterator<Item = char> {
    let folded: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ă' | 'ą' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ă' | 'Ą' => "A",
        'ç' | 'ć' | 'č' => "c",
        'Ç' | 'Ć' | 'Č' => "C",
        'è' | 'é' | 'ê' | 'ë' | 'ę' | 'ě' => "e",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ę' | 'Ě' => "E",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'Ì' | 'Í' | 'Î' | 'Ï' => "I",
        'ñ' | 'ń' => "n",
        'Ñ' | 'Ń' => "N",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "O",
        'ș' | 'ş' | 'ś' | 'š' => "s",
        'Ș' | 'Ş' | 'Ś' | 'Š' => "S",
        'ț' | 'ţ' => "t",
        'Ț' | 'Ţ' => "T",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'Ù' | 'Ú' | 'Û' | 'Ü' => "U",
        'ý' | 'ÿ' => "y",
        'ž' | 'ź' | 'ż' => "z",
        'Ž' | 'Ź' | 'Ż' => "Z",
        'œ' => "oe",
        'Œ' => "OE",
        'æ' => "ae",
        'Æ' => "AE",
        'ß' => "ss",
        _ => "",
    };
    let single = if folded.is_empty() { Some(c) } else { None };
    single.into_iter().chain(folded.chars())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_become_e164() {
        for (raw, expected) in [
            ("0722 123 456", Some("+40722123456")),
            ("+40 722-123-456", Some("+40722123456")),
            ("0040722123456", Some("+40722123456")),
            ("40722123456", Some("+40722123456")),
            ("722123456", Some("+40722123456")),
            ("12", None),
        ] {
            assert_eq!(e164(raw, Some("40")).as_deref(), expected, "{raw}");
        }
        assert_eq!(
            e164("06 12 34 56 78", None),
            None,
            "a national number needs a country code"
        );
    }
}
