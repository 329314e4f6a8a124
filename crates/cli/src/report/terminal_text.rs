//! A step's output made safe to print among slipway's own lines: its colours are kept
//! (or dropped when colour is off), and every other control character or escape
//! sequence — a clear-screen, a window title, a bell — is shown as text (`^[`, `^G`), as
//! GitLab's log viewer keeps only colours. Printed raw, it would rewrite the terminal.

use std::borrow::Cow;

/// `line` with colour (SGR) sequences kept when `colour` — and reset at its end, so a
/// colour the step left on does not paint slipway's next label — else dropped, and other
/// control characters in caret notation.
pub fn printable(line: &str, colour: bool) -> Cow<'_, str> {
    if !line.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    let mut coloured = false;
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c == '\u{1b}' {
            if let Some(length) = sgr_length(rest) {
                if colour {
                    out.push_str(&rest[..length]);
                    coloured = true;
                }
                rest = &rest[length..];
                continue;
            }
        }
        match c {
            '\t' => out.push(c),
            // C0 controls and DEL in caret notation; C1 controls by their code.
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push(char::from(b'@' + c as u8));
            }
            '\u{7f}' => out.push_str("^?"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    if coloured {
        out.push_str("\u{1b}[0m");
    }
    Cow::Owned(out)
}

/// The length of the colour sequence `text` starts with (`ESC [ 1;31 m`), if it does.
fn sgr_length(text: &str) -> Option<usize> {
    let body = text.strip_prefix("\u{1b}[")?;
    let parameters = body.find(|c: char| !(c.is_ascii_digit() || c == ';' || c == ':'))?;
    body[parameters..].starts_with('m').then_some(2 + parameters + 1)
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn colours_stay_and_everything_else_is_shown_as_text() {
        let line = "\u{1b}[1;31mred\u{1b}[0m \u{1b}[2J\u{1b}[H\u{1b}]0;pwned\u{7}\0end\u{7f}";
        assert_eq!(printable(line, true), "\u{1b}[1;31mred\u{1b}[0m ^[[2J^[[H^[]0;pwned^G^@end^?\u{1b}[0m");
        assert_eq!(printable("\u{1b}[4;41mleft on", true), "\u{1b}[4;41mleft on\u{1b}[0m", "reset at the end");
        assert_eq!(printable(line, false), "red ^[[2J^[[H^[]0;pwned^G^@end^?");
        assert_eq!(printable("plain\ttext ✓", true), "plain\ttext ✓");
        assert_eq!(printable("\u{9b}2J", true), "\\u{9b}2J", "a one-character CSI");
    }
}
