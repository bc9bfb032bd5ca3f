//! Helpers shared by the closed vocabularies (categories, roles, statuses, reasons).
//!
//! Each vocabulary is a fieldless enum whose wire spelling is snake_case. The macro keeps the
//! textual form, `ALL`, `Display` and `FromStr` in one table per enum so they cannot drift apart.

/// Implements `ALL`, `as_str`, `Display` and `FromStr` (trimmed, ASCII case-insensitive, with
/// an error listing every accepted word) for a fieldless enum.
macro_rules! string_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in canonical (declaration) order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),+
                }
            }

            /// The sentence used when a word is not one of this vocabulary.
            pub fn expected() -> String {
                let words: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                format!("must be one of {}", words.join(", "))
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let s = s.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(Self::expected)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Colour {
        Red,
        DarkBlue,
    }

    string_enum!(Colour {
        Red => "red",
        DarkBlue => "dark_blue",
    });

    #[test]
    fn generated_vocabulary_lists_parses_and_displays_every_word() {
        assert_eq!(Colour::ALL, [Colour::Red, Colour::DarkBlue]);
        let cases: &[(&str, Result<Colour, &str>)] = &[
            ("red", Ok(Colour::Red)),
            ("dark_blue", Ok(Colour::DarkBlue)),
            ("  DARK_Blue\t", Ok(Colour::DarkBlue)),
            ("dark blue", Err("must be one of red, dark_blue")),
            ("", Err("must be one of red, dark_blue")),
        ];
        for (input, want) in cases {
            let got = input.parse::<Colour>();
            assert_eq!(got, want.map_err(String::from), "input {input:?}");
        }
        assert_eq!(Colour::DarkBlue.to_string(), "dark_blue");
        assert_eq!(Colour::Red.as_str(), "red");
    }
}
