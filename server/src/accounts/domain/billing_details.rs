//! An organization's billing details, as invoices will print them: checked before they are stored,
//! so mail never goes to something that cannot be an address and a tax id has its country's shape.
use isocountry::CountryCode;

use super::email::email_address;
use super::refusal::{Refusal, refuse};

pub const MAX_TEXT_LEN: usize = 200;

/// The details as typed, or as stored once checked (then `country` is an ISO 3166-1 alpha-2 code
/// or empty, and `tax_id` is in its stored form).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingDetails {
    pub legal_name: String,
    pub address_line1: String,
    pub address_line2: String,
    pub city: String,
    pub postal_code: String,
    pub region: String,
    pub country: String,
    pub tax_id: String,
    pub billing_email: String,
}

/// Checks every field; answers the details in stored form, or the first field refused.
pub fn check(raw: &BillingDetails) -> Result<BillingDetails, Refusal> {
    let text = |field: &'static str, value: &str| -> Result<String, Refusal> {
        let value = value.trim();
        if value.chars().count() > MAX_TEXT_LEN {
            return refuse(field, format!("must be at most {MAX_TEXT_LEN} characters"));
        }
        if value.chars().any(char::is_control) {
            return refuse(field, "must be a single line of text");
        }
        Ok(value.to_owned())
    };
    let checked = BillingDetails {
        legal_name: text("legal_name", &raw.legal_name)?,
        address_line1: text("address_line1", &raw.address_line1)?,
        address_line2: text("address_line2", &raw.address_line2)?,
        city: text("city", &raw.city)?,
        postal_code: text("postal_code", &raw.postal_code)?,
        region: text("region", &raw.region)?,
        country: country(&raw.country)?,
        tax_id: String::new(),
        billing_email: billing_email(&raw.billing_email)?,
    };
    let has_address = [&checked.address_line1, &checked.address_line2, &checked.city, &checked.postal_code]
        .iter()
        .any(|part| !part.is_empty());
    if has_address && checked.address_line1.is_empty() {
        return refuse("address_line1", "is required with an address");
    }
    if has_address && checked.city.is_empty() {
        return refuse("city", "is required with an address");
    }
    if has_address && checked.country.is_empty() {
        return refuse("country", "is required with an address");
    }
    let tax_id = match raw.tax_id.trim() {
        "" => String::new(),
        _ if checked.country.is_empty() => return refuse("country", "is required with a tax id"),
        typed => tax_id(&checked.country, typed).map_err(|reason| Refusal { field: "tax_id", reason })?,
    };
    Ok(BillingDetails { tax_id, ..checked })
}

/// An address mail can be sent to, trimmed; refused with the field `billing_email`.
pub fn billing_email(raw: &str) -> Result<String, Refusal> {
    if raw.trim().is_empty() {
        return refuse("billing_email", "is required: invoices and payment notices go there");
    }
    email_address("billing_email", raw)
}

/// An ISO 3166-1 alpha-2 code, upper-cased; empty stays empty.
fn country(raw: &str) -> Result<String, Refusal> {
    let code = raw.trim();
    if code.is_empty() {
        return Ok(String::new());
    }
    match CountryCode::for_alpha2_caseless(code) {
        Ok(country) => Ok(country.alpha2().to_owned()),
        Err(_) => refuse("country", "is not a country code such as DE or US"),
    }
}

/// Every country, for a picker: (alpha-2 code, English name), by name.
pub fn countries() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<_> = CountryCode::iter().map(|c| (c.alpha2(), c.name())).collect();
    all.sort_by_key(|(_, name)| *name);
    all
}

/// How a country writes its tax ids: the prefix stored before the number (typed or not), and the
/// shapes the number may take: `9` a digit, `A` a letter, `X` either, anything else itself.
struct TaxIdFormat {
    prefix: &'static str,
    shapes: &'static [&'static str],
    example: &'static str,
}

const fn format(prefix: &'static str, shapes: &'static [&'static str], example: &'static str) -> TaxIdFormat {
    TaxIdFormat { prefix, shapes, example }
}

/// EU VAT numbers (as the EU's VIES service writes them), and a few others.
fn tax_id_format(country: &str) -> Option<TaxIdFormat> {
    Some(match country {
        "AT" => format("ATU", &["99999999"], "ATU12345678"),
        "BE" => format("BE", &["9999999999"], "BE0123456789"),
        "BG" => format("BG", &["999999999", "9999999999"], "BG123456789"),
        "CY" => format("CY", &["99999999A"], "CY12345678X"),
        "CZ" => format("CZ", &["99999999", "999999999", "9999999999"], "CZ12345678"),
        "DE" => format("DE", &["999999999"], "DE123456789"),
        "DK" => format("DK", &["99999999"], "DK12345678"),
        "EE" => format("EE", &["999999999"], "EE123456789"),
        "GR" => format("EL", &["999999999"], "EL123456789"),
        "ES" => format("ES", &["X9999999X"], "ESX1234567X"),
        "FI" => format("FI", &["99999999"], "FI12345678"),
        "FR" => format("FR", &["XX999999999"], "FR12345678901"),
        "HR" => format("HR", &["99999999999"], "HR12345678901"),
        "HU" => format("HU", &["99999999"], "HU12345678"),
        "IE" => format("IE", &["9999999A", "9999999AA", "9X99999A"], "IE1234567T"),
        "IT" => format("IT", &["99999999999"], "IT12345678901"),
        "LT" => format("LT", &["999999999", "999999999999"], "LT123456789"),
        "LU" => format("LU", &["99999999"], "LU12345678"),
        "LV" => format("LV", &["99999999999"], "LV12345678901"),
        "MT" => format("MT", &["99999999"], "MT12345678"),
        "NL" => format("NL", &["999999999B99"], "NL123456789B01"),
        "PL" => format("PL", &["9999999999"], "PL1234567890"),
        "PT" => format("PT", &["999999999"], "PT123456789"),
        "RO" => format(
            "RO",
            &["99", "999", "9999", "99999", "999999", "9999999", "99999999", "999999999", "9999999999"],
            "RO1234567890",
        ),
        "SE" => format("SE", &["999999999901"], "SE123456789001"),
        "SI" => format("SI", &["99999999"], "SI12345678"),
        "SK" => format("SK", &["9999999999"], "SK1234567890"),
        "GB" => format("GB", &["999999999", "999999999999", "GD999", "HA999"], "GB123456789"),
        "CH" => format("CHE", &["999999999"], "CHE-123.456.789"),
        "NO" => format("NO", &["999999999MVA"], "NO123456789MVA"),
        "US" => format("", &["999999999"], "12-3456789"),
        "CA" => format("", &["999999999", "999999999RT9999"], "123456789RT0001"),
        "AU" => format("", &["99999999999"], "51 824 753 556"),
        "IN" => format("", &["99AAAAA9999AXZX"], "22AAAAA0000A1Z5"),
        _ => return None,
    })
}

/// The tax id in stored form: upper case, without spaces, dots or hyphens, with its country's
/// prefix. Countries without a known format take any 3–32 letters and digits.
pub fn tax_id(country: &str, raw: &str) -> Result<String, String> {
    let compact: String =
        raw.chars().filter(|c| !matches!(c, ' ' | '.' | '-' | '/')).map(|c| c.to_ascii_uppercase()).collect();
    let Some(format) = tax_id_format(country) else {
        if (3..=32).contains(&compact.len()) && compact.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(compact);
        }
        return Err("must be 3 to 32 letters and digits".into());
    };
    // Swiss numbers end in their VAT register's name in one of three languages.
    let compact = match country {
        "CH" => ["MWST", "TVA", "IVA"]
            .iter()
            .fold(compact, |id, suffix| id.strip_suffix(suffix).map_or(id.clone(), str::to_owned)),
        _ => compact,
    };
    let number = compact.strip_prefix(format.prefix).unwrap_or(&compact);
    let fits = |shape: &str| {
        shape.len() == number.len()
            && shape.chars().zip(number.chars()).all(|(s, c)| match s {
                '9' => c.is_ascii_digit(),
                'A' => c.is_ascii_uppercase(),
                'X' => c.is_ascii_alphanumeric(),
                literal => c == literal,
            })
    };
    if !format.shapes.iter().any(|shape| fits(shape)) {
        return Err(format!("is not a tax id of {country}, which looks like {}", format.example));
    }
    if country == "AU" && !abn_checksum_holds(number) {
        return Err("is not an Australian Business Number: its check digits do not match".into());
    }
    Ok(format!("{}{number}", format.prefix))
}

/// An ABN's check: subtract 1 from the first digit, weigh the digits, and the sum divides by 89.
fn abn_checksum_holds(digits: &str) -> bool {
    const WEIGHTS: [u32; 11] = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];
    let values: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if values.len() != 11 || values[0] == 0 {
        return false;
    }
    let sum: u32 =
        values.iter().zip(WEIGHTS).enumerate().map(|(i, (&d, w))| if i == 0 { (d - 1) * w } else { d * w }).sum();
    sum % 89 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details() -> BillingDetails {
        BillingDetails {
            legal_name: "Acme Corporation GmbH".into(),
            address_line1: "Hauptstraße 1".into(),
            city: "Berlin".into(),
            postal_code: "10115".into(),
            country: "de".into(),
            tax_id: "de 123 456 789".into(),
            billing_email: " billing@acme.test ".into(),
            ..BillingDetails::default()
        }
    }

    #[test]
    fn details_are_stored_in_one_form() {
        let checked = check(&details()).unwrap();
        assert_eq!(checked.country, "DE");
        assert_eq!(checked.tax_id, "DE123456789");
        assert_eq!(checked.billing_email, "billing@acme.test");
        assert_eq!(checked.address_line1, "Hauptstraße 1");
        let bare = BillingDetails { billing_email: "a@b.example".into(), ..BillingDetails::default() };
        assert_eq!(check(&bare).unwrap().billing_email, "a@b.example", "only the email is required");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(BillingDetails, &str)> = vec![
            (BillingDetails { billing_email: "".into(), ..details() }, "billing_email"),
            (BillingDetails { billing_email: "not an address".into(), ..details() }, "billing_email"),
            (BillingDetails { billing_email: "a@".into(), ..details() }, "billing_email"),
            (
                BillingDetails { billing_email: format!("{}@example.com", "a".repeat(250)), ..details() },
                "billing_email",
            ),
            (BillingDetails { legal_name: "x".repeat(MAX_TEXT_LEN + 1), ..details() }, "legal_name"),
            (BillingDetails { city: "Ber\nlin".into(), ..details() }, "city"),
            (BillingDetails { country: "XX".into(), ..details() }, "country"),
            (BillingDetails { address_line1: "".into(), ..details() }, "address_line1"),
            (BillingDetails { city: "".into(), ..details() }, "city"),
            (BillingDetails { country: "".into(), ..details() }, "country"),
            (BillingDetails { tax_id: "DE12345678".into(), ..details() }, "tax_id"),
        ];
        for (input, field) in cases {
            assert_eq!(check(&input).unwrap_err().field, field, "{input:?}");
        }
        let no_country = BillingDetails {
            address_line1: "".into(),
            city: "".into(),
            postal_code: "".into(),
            country: "".into(),
            ..details()
        };
        assert_eq!(check(&no_country).unwrap_err().field, "country", "a tax id needs its country");
    }

    #[test]
    fn tax_ids_take_their_country_shape_with_or_without_the_prefix() {
        let accepted = [
            ("DE", "DE123456789", "DE123456789"),
            ("DE", "123456789", "DE123456789"),
            ("AT", "ATU12345678", "ATU12345678"),
            ("GR", "EL123456789", "EL123456789"),
            ("FR", "FR 1A 123456789", "FR1A123456789"),
            ("NL", "NL123456789B01", "NL123456789B01"),
            ("IE", "IE1234567T", "IE1234567T"),
            ("IE", "1A23456B", "IE1A23456B"),
            ("ES", "ESX1234567X", "ESX1234567X"),
            ("GB", "GB 123 4567 89", "GB123456789"),
            ("GB", "GD123", "GBGD123"),
            ("CH", "CHE-123.456.789 MWST", "CHE123456789"),
            ("NO", "123456789MVA", "NO123456789MVA"),
            ("US", "12-3456789", "123456789"),
            ("CA", "123456789RT0001", "123456789RT0001"),
            ("AU", "51 824 753 556", "51824753556"),
            ("IN", "22AAAAA0000A1Z5", "22AAAAA0000A1Z5"),
            ("JP", "T1234567890123", "T1234567890123"),
        ];
        for (country, typed, stored) in accepted {
            assert_eq!(tax_id(country, typed).as_deref(), Ok(stored), "{country} {typed}");
        }
        let refused = [
            ("DE", "DE12345678"),
            ("DE", "FR123456789"),
            ("AT", "AT12345678"),
            ("NL", "NL123456789C01"),
            ("US", "1234567"),
            ("AU", "51 824 753 557"),
            ("IN", "22AAAAA0000A1X5"),
            ("JP", "T1"),
            ("JP", "T12345€"),
        ];
        for (country, typed) in refused {
            assert!(tax_id(country, typed).is_err(), "{country} {typed}");
        }
        assert!(tax_id("DE", "1").unwrap_err().contains("DE123456789"), "the refusal shows an example");
    }

    #[test]
    fn every_country_is_offered_once_by_name() {
        let all = countries();
        assert!(all.len() > 240);
        assert!(all.contains(&("DE", "Germany")));
        assert!(all.windows(2).all(|pair| pair[0].1 <= pair[1].1));
    }
}
