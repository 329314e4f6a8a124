//! Terminal colours in logs: SGR escapes become `<span>`s around escaped text; every
//! other escape sequence (cursor moves, OSC titles and links, stray ESC) is dropped.
//! The text itself only ever reaches the page through maud's escaping.

use maud::{html, Markup};

/// One log line as HTML.
pub fn ansi_to_html(line: &str) -> Markup {
    let segments = parse(line);
    html! {
        @for (style, text) in &segments {
            @if style.is_plain() {
                (text)
            } @else {
                span class=[style.classes()] style=[style.css()] { (text) }
            }
        }
    }
}

/// [`ansi_to_html`] as a string, for the `html` field of live events.
pub fn ansi_to_html_string(line: &str) -> String {
    ansi_to_html(line).into_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Color {
    /// The 16 basic colours, themed by the stylesheet (`ansi-fg-N`, `ansi-bg-N`).
    Basic(u8),
    Rgb(u8, u8, u8),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Style {
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
    fg: Option<Color>,
    bg: Option<Color>,
}

impl Style {
    fn is_plain(&self) -> bool {
        *self == Style::default()
    }

    fn classes(&self) -> Option<String> {
        let mut classes = Vec::new();
        for (on, class) in [
            (self.bold, "ansi-bold"),
            (self.dim, "ansi-dim"),
            (self.italic, "ansi-italic"),
            (self.underline, "ansi-underline"),
        ] {
            if on {
                classes.push(class.to_string());
            }
        }
        if let Some(Color::Basic(n)) = self.fg {
            classes.push(format!("ansi-fg-{n}"));
        }
        if let Some(Color::Basic(n)) = self.bg {
            classes.push(format!("ansi-bg-{n}"));
        }
        (!classes.is_empty()).then(|| classes.join(" "))
    }

    fn css(&self) -> Option<String> {
        let mut css = Vec::new();
        if let Some(Color::Rgb(r, g, b)) = self.fg {
            css.push(format!("color:#{r:02x}{g:02x}{b:02x}"));
        }
        if let Some(Color::Rgb(r, g, b)) = self.bg {
            css.push(format!("background-color:#{r:02x}{g:02x}{b:02x}"));
        }
        (!css.is_empty()).then(|| css.join(";"))
    }

    /// Applies the parameters of one `ESC [ … m`.
    fn apply(&mut self, params: &str) {
        let mut items = params.split(';');
        while let Some(item) = items.next() {
            let mut parts = item.split(':');
            // An empty parameter means 0, as terminals read it.
            let Some(code) = number(parts.next().unwrap_or("")) else { continue };
            match code {
                0 => *self = Style::default(),
                1 => self.bold = true,
                2 => self.dim = true,
                3 => self.italic = true,
                // `4:0` is the colon form of "no underline".
                4 => self.underline = parts.next().and_then(number) != Some(0),
                22 => (self.bold, self.dim) = (false, false),
                23 => self.italic = false,
                24 => self.underline = false,
                30..=37 => self.fg = Some(Color::Basic((code - 30) as u8)),
                39 => self.fg = None,
                40..=47 => self.bg = Some(Color::Basic((code - 40) as u8)),
                49 => self.bg = None,
                90..=97 => self.fg = Some(Color::Basic((code - 90 + 8) as u8)),
                100..=107 => self.bg = Some(Color::Basic((code - 100 + 8) as u8)),
                38 | 48 => {
                    let color = if item.contains(':') {
                        extended_colon(&parts.collect::<Vec<_>>())
                    } else {
                        extended_semicolon(&mut items)
                    };
                    if let Some(color) = color {
                        if code == 38 {
                            self.fg = Some(color);
                        } else {
                            self.bg = Some(color);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn number(text: &str) -> Option<u32> {
    if text.is_empty() {
        Some(0)
    } else {
        text.parse().ok()
    }
}

fn byte(text: &str) -> Option<u8> {
    number(text).and_then(|n| u8::try_from(n).ok())
}

/// `38;5;n` or `38;2;r;g;b`: the colour's parameters follow as separate items.
fn extended_semicolon<'a>(items: &mut impl Iterator<Item = &'a str>) -> Option<Color> {
    match items.next().and_then(number)? {
        5 => palette(byte(items.next()?)?),
        2 => {
            let (r, g, b) = (items.next()?, items.next()?, items.next()?);
            Some(Color::Rgb(byte(r)?, byte(g)?, byte(b)?))
        }
        _ => None,
    }
}

/// `38:5:n`, `38:2:r:g:b` or `38:2:colorspace:r:g:b` (ITU T.416).
fn extended_colon(parts: &[&str]) -> Option<Color> {
    match (parts.first().copied().and_then(number)?, &parts[1..]) {
        (5, [n, ..]) => palette(byte(n)?),
        (2, [_, r, g, b, ..]) | (2, [r, g, b]) => Some(Color::Rgb(byte(r)?, byte(g)?, byte(b)?)),
        _ => None,
    }
}

/// The xterm 256-colour palette: 16 basic colours, a 6×6×6 cube, 24 greys.
fn palette(n: u8) -> Option<Color> {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    Some(match n {
        0..=15 => Color::Basic(n),
        16..=231 => {
            let i = usize::from(n - 16);
            Color::Rgb(LEVELS[i / 36], LEVELS[i / 6 % 6], LEVELS[i % 6])
        }
        _ => {
            let grey = 8 + (n - 232) * 10;
            Color::Rgb(grey, grey, grey)
        }
    })
}

/// What one escape sequence is, and how many bytes of the line it takes.
enum Escape<'a> {
    Sgr(&'a str),
    Other,
}

/// Reads the sequence after a CSI introducer (`ESC [` or U+009B). A byte that cannot be
/// part of it ends it early and is read again as text, so nothing is swallowed silently
/// beyond the malformed sequence itself.
fn csi(rest: &str) -> (usize, Escape<'_>) {
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() && (0x30..=0x3f).contains(&bytes[i]) {
        i += 1;
    }
    let params_end = i;
    while i < bytes.len() && (0x20..=0x2f).contains(&bytes[i]) {
        i += 1;
    }
    match bytes.get(i) {
        Some(b'm') if params_end == i && rest[..i].bytes().all(|b| b.is_ascii_digit() || b == b';' || b == b':') => {
            (i + 1, Escape::Sgr(&rest[..i]))
        }
        Some(0x40..=0x7e) => (i + 1, Escape::Other),
        // Malformed (or cut off at the end of the line): drop what was read.
        _ => (i, Escape::Other),
    }
}

/// Reads an OSC/DCS/APC-style string up to BEL or ST (`ESC \`); unterminated, it runs to
/// the end of the line. A lone ESC inside ends it and starts the next sequence.
fn string_sequence(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x07 => return i + 1,
            0x1b if bytes.get(i + 1) == Some(&b'\\') => return i + 2,
            0x1b => return i,
            _ => i += 1,
        }
    }
    i
}

/// Reads what follows an ESC.
fn escape(rest: &str) -> (usize, Escape<'_>) {
    let bytes = rest.as_bytes();
    match bytes.first() {
        None => (0, Escape::Other),
        Some(b'[') => {
            let (len, escape) = csi(&rest[1..]);
            (len + 1, escape)
        }
        Some(b']' | b'P' | b'X' | b'^' | b'_') => (1 + string_sequence(&rest[1..]), Escape::Other),
        // nF sequences such as `ESC ( B` (character sets): intermediates, then a final byte.
        Some(0x20..=0x2f) => {
            let mut i = 1;
            while i < bytes.len() && (0x20..=0x2f).contains(&bytes[i]) {
                i += 1;
            }
            match bytes.get(i) {
                Some(0x30..=0x7e) => (i + 1, Escape::Other),
                _ => (i, Escape::Other),
            }
        }
        // Two-byte sequences: `ESC 7`, `ESC M`, `ESC =`, …
        Some(0x30..=0x7e) => (1, Escape::Other),
        // A stray ESC: drop only the ESC itself.
        Some(_) => (0, Escape::Other),
    }
}

/// Splits a line into runs of text that share one style.
fn parse(line: &str) -> Vec<(Style, String)> {
    // A carriage return at the end is a CRLF line ending, not an overwrite.
    let line = line.trim_end_matches('\r');
    let mut segments: Vec<(Style, String)> = Vec::new();
    let mut style = Style::default();
    let mut i = 0;
    while let Some(c) = line[i..].chars().next() {
        let after = i + c.len_utf8();
        match c {
            '\x1b' | '\u{9b}' | '\u{9d}' => {
                let rest = &line[after..];
                let (len, sequence) = match c {
                    '\x1b' => escape(rest),
                    '\u{9b}' => csi(rest),
                    _ => (string_sequence(rest), Escape::Other),
                };
                if let Escape::Sgr(params) = sequence {
                    style.apply(params);
                }
                i = after + len;
                continue;
            }
            // A terminal would go back and overwrite: what shows is what came after.
            '\r' => segments.clear(),
            '\t' => push(&mut segments, style, c),
            c if c.is_control() => {}
            c => push(&mut segments, style, c),
        }
        i = after;
    }
    segments
}

fn push(segments: &mut Vec<(Style, String)>, style: Style, c: char) {
    match segments.last_mut() {
        Some((last, text)) if *last == style => text.push(c),
        _ => segments.push((style, c.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(line: &str) -> String {
        ansi_to_html_string(line)
    }

    #[test]
    fn plain_text_is_escaped() {
        assert_eq!(html("hello"), "hello");
        assert_eq!(
            html("<script>alert(\"x\")</script> & co"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"
        );
        assert_eq!(html("\x1b[31m<script>\x1b[0m"), "<span class=\"ansi-fg-1\">&lt;script&gt;</span>");
    }

    #[test]
    fn basic_attributes_and_colours() {
        assert_eq!(html("\x1b[31mred\x1b[0m plain"), "<span class=\"ansi-fg-1\">red</span> plain");
        assert_eq!(html("\x1b[1;4;92;44mx"), "<span class=\"ansi-bold ansi-underline ansi-fg-10 ansi-bg-4\">x</span>");
        assert_eq!(
            html("\x1b[2;3mx\x1b[22my\x1b[23mz"),
            concat!("<span class=\"ansi-dim ansi-italic\">x</span>", "<span class=\"ansi-italic\">y</span>z")
        );
        assert_eq!(
            html("\x1b[97;101ma\x1b[39mb\x1b[49mc"),
            concat!("<span class=\"ansi-fg-15 ansi-bg-9\">a</span>", "<span class=\"ansi-bg-9\">b</span>c")
        );
        // `ESC [ m` is a reset too.
        assert_eq!(html("\x1b[1mx\x1b[my"), "<span class=\"ansi-bold\">x</span>y");
        assert_eq!(html("\x1b[4mx\x1b[24my"), "<span class=\"ansi-underline\">x</span>y");
    }

    #[test]
    fn extended_colours() {
        assert_eq!(html("\x1b[38;5;196mx"), "<span style=\"color:#ff0000\">x</span>");
        assert_eq!(html("\x1b[38;5;9mx"), "<span class=\"ansi-fg-9\">x</span>");
        assert_eq!(html("\x1b[48;5;244mx"), "<span style=\"background-color:#808080\">x</span>");
        assert_eq!(html("\x1b[38;2;1;2;255mx"), "<span style=\"color:#0102ff\">x</span>");
        assert_eq!(html("\x1b[38:2::10:20:30mx"), "<span style=\"color:#0a141e\">x</span>");
        assert_eq!(html("\x1b[38:5:21mx"), "<span style=\"color:#0000ff\">x</span>");
        // Out of range or cut short: the colour is ignored, the rest still applies.
        assert_eq!(html("\x1b[38;2;300;0;0;1mx"), "<span class=\"ansi-bold\">x</span>");
        assert_eq!(html("\x1b[38;5mx"), "x");
    }

    #[test]
    fn other_sequences_are_stripped() {
        assert_eq!(html("\x1b[2K\x1b[1Gprogress \x1b[?25lhidden cursor\x1b[?25h"), "progress hidden cursor");
        assert_eq!(html("\x1b]0;window title\x07text"), "text");
        assert_eq!(html("\x1b]8;;https://x.y\x1b\\link\x1b]8;;\x1b\\ after"), "link after");
        assert_eq!(html("\x1b(Bcharset \x1b7saved\x1b8"), "charset saved");
        assert_eq!(html("\u{9b}32mc1\u{9b}0m"), "<span class=\"ansi-fg-2\">c1</span>");
        assert_eq!(html("bell\x07 back\x08space"), "bell backspace");
        assert_eq!(html("tab\there\r"), "tab\there");
        assert_eq!(html("50%\r100%"), "100%");
    }

    #[test]
    fn malformed_escapes() {
        assert_eq!(html("stray \x1b"), "stray ");
        assert_eq!(html("cut \x1b[31"), "cut ");
        assert_eq!(html("\x1b]unterminated title"), "");
        assert_eq!(html("a\x1b\x1b[1mb"), "a<span class=\"ansi-bold\">b</span>");
        // A private or mixed sequence is not SGR and styles nothing.
        assert_eq!(html("\x1b[31;<mx"), "x");
        // A byte that cannot be part of the sequence ends it and is shown as text, escaped.
        assert_eq!(html("\x1b[1\"<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
        assert_eq!(html("\x1b[99999999999999999999mx"), "x");
        assert_eq!(html("\x1bé"), "é");
    }
}
