//! ISO 3166-1 alpha-2 country codes (the 249 officially assigned codes).

const CODES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ \
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY \
HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY \
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ \
NA NC NE NF NG NI NL NO NP NR NU NZ OM \
PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ \
VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// Whether `code` (upper case) is an assigned ISO 3166-1 alpha-2 code.
pub fn is_iso_3166_alpha2(code: &str) -> bool {
    code.len() == 2 && CODES.split_ascii_whitespace().any(|c| c == code)
}

/// The assigned codes in either case, as a regular expression without anchors (`[Aa][DdEe…]|…`):
/// what [`crate::domain::Country::parse`] accepts once trimmed.
pub fn pattern_any_case() -> String {
    let mut by_first: Vec<(char, Vec<char>)> = Vec::new();
    for code in CODES.split_ascii_whitespace() {
        let mut letters = code.chars();
        let (Some(first), Some(second)) = (letters.next(), letters.next()) else {
            continue;
        };
        match by_first.last_mut() {
            Some((f, seconds)) if *f == first => seconds.push(second),
            _ => by_first.push((first, vec![second])),
        }
    }
    let both = |c: char| format!("{c}{}", c.to_ascii_lowercase());
    let alternatives: Vec<String> = by_first
        .into_iter()
        .map(|(first, seconds)| {
            let seconds: String = seconds.into_iter().map(both).collect();
            format!("[{}][{seconds}]", both(first))
        })
        .collect();
    format!("(?:{})", alternatives.join("|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_249_codes_and_only_them() {
        let codes: Vec<_> = CODES.split_ascii_whitespace().collect();
        assert_eq!(codes.len(), 249);
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, codes, "sorted and unique");
        assert!(is_iso_3166_alpha2("CH") && is_iso_3166_alpha2("ZW"));
        assert!(
            !is_iso_3166_alpha2("XX") && !is_iso_3166_alpha2("ch") && !is_iso_3166_alpha2("CHE")
        );
    }
}
