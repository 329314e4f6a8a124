//! The part of Go's text/template that Jet's `image_tag` and build args were written in:
//! fields (`.Branch`), the time's methods (`.Time.Format "20060102"`, `.Time.Unix`), the
//! functions `printf`, `print`, `slice` and `len`, string and number literals, and pipes
//! (`.CommitID | printf "%.7s"`). Anything else is an error that says what is supported.

use chrono::{DateTime, FixedOffset};

use crate::template::{TemplateVars, TEMPLATE_FIELDS};

#[derive(Clone, Debug)]
enum Value {
    Text(String),
    Int(i64),
    /// The run's time, and how `{{ .Time }}` prints it.
    Time(DateTime<FixedOffset>, String),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Int(i) => i.to_string(),
            Value::Time(_, shown) => shown.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Field(Vec<String>),
    Text(String),
    Int(i64),
    Word(String),
}

const SUPPORTED: &str = "fields such as `.Branch`, `.Time.Format \"2006-01-02\"`, `.Time.Unix`, and `printf`, `print`, `slice`, `len` with pipes (`.CommitID | printf \"%.7s\"`)";

/// The value of one `{{ … }}` action, as text.
pub(crate) fn evaluate(action: &str, vars: &TemplateVars) -> Result<String, String> {
    let mut piped: Option<Value> = None;
    for command in split_pipes(action)? {
        let tokens = tokenize(&command)?;
        piped = Some(run_command(&tokens, piped, vars)?);
    }
    piped.map(|v| v.text()).ok_or_else(|| format!("`{{{{ }}}}` is empty; write one of {SUPPORTED}"))
}

/// The commands of a pipeline: split at `|` outside quotes.
fn split_pipes(action: &str) -> Result<Vec<String>, String> {
    let mut commands = vec![String::new()];
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in action.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                commands.last_mut().expect("one").push(c);
            }
            None if c == '|' => commands.push(String::new()),
            None => {
                if c == '"' || c == '`' {
                    quote = Some(c);
                }
                commands.last_mut().expect("one").push(c);
            }
        }
    }
    if quote.is_some() {
        return Err(format!("a quote is not closed in `{{{{ {action} }}}}`"));
    }
    if commands.iter().any(|c| c.trim().is_empty()) {
        return Err(format!("`{{{{ {action} }}}}` has an empty command in its pipe"));
    }
    Ok(commands)
}

fn tokenize(command: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = command.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '`' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    None => return Err(format!("a quote is not closed in `{command}`")),
                    Some(end) if end == c => break,
                    Some('\\') if c == '"' => match chars.next() {
                        Some('n') => text.push('\n'),
                        Some('t') => text.push('\t'),
                        Some(other) => text.push(other),
                        None => return Err(format!("a quote is not closed in `{command}`")),
                    },
                    Some(other) => text.push(other),
                }
            }
            tokens.push(Token::Text(text));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' || c == '`' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(if let Some(path) = word.strip_prefix('.') {
                Token::Field(path.split('.').map(str::to_string).collect())
            } else if let Ok(number) = word.parse::<i64>() {
                Token::Int(number)
            } else if word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                Token::Word(word)
            } else {
                return Err(format!("`{word}` is not supported in a template; use {SUPPORTED}"));
            });
        }
    }
    Ok(tokens)
}

fn run_command(tokens: &[Token], piped: Option<Value>, vars: &TemplateVars) -> Result<Value, String> {
    let (first, rest) = tokens.split_first().ok_or("an empty command")?;
    let mut args: Vec<Value> = rest.iter().map(|t| argument(t, vars)).collect::<Result<_, _>>()?;
    args.extend(piped);
    match first {
        Token::Field(path) => field(path, args, vars),
        Token::Text(text) if args.is_empty() => Ok(Value::Text(text.clone())),
        Token::Int(number) if args.is_empty() => Ok(Value::Int(*number)),
        Token::Word(name) => function(name, args),
        _ => Err(format!("a literal takes no arguments; use {SUPPORTED}")),
    }
}

fn argument(token: &Token, vars: &TemplateVars) -> Result<Value, String> {
    match token {
        Token::Field(path) => field(path, Vec::new(), vars),
        Token::Text(text) => Ok(Value::Text(text.clone())),
        Token::Int(number) => Ok(Value::Int(*number)),
        Token::Word(name) => {
            Err(format!("`{name}` as an argument needs parentheses, which are not supported; use a pipe"))
        }
    }
}

fn unknown_field(name: &str) -> String {
    format!(
        "`.{name}` is not a known template field; use one of {}",
        TEMPLATE_FIELDS.iter().map(|f| format!(".{f}")).collect::<Vec<_>>().join(" ")
    )
}

fn field(path: &[String], args: Vec<Value>, vars: &TemplateVars) -> Result<Value, String> {
    let (name, methods) = path.split_first().ok_or_else(|| unknown_field(""))?;
    let value = vars.get(name.as_str()).ok_or_else(|| unknown_field(name))?;
    match (name.as_str(), methods) {
        (_, []) if args.is_empty() => Ok(Value::Text(value.clone())),
        (_, []) => Err(format!("the field `.{name}` takes no arguments")),
        ("Time", [method]) => time_method(run_time(vars, value)?, method, args),
        _ => Err(format!(
            "`.{}` is not supported; of the fields only `.Time` has methods (Format, Unix)",
            path.join(".")
        )),
    }
}

/// The run's time: from `StringTime` (RFC 3339), else the Unix `Timestamp`.
fn run_time(vars: &TemplateVars, shown: &str) -> Result<Value, String> {
    let parsed = vars
        .get("StringTime")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .or_else(|| {
            let seconds = vars.get("Timestamp")?.parse::<i64>().ok()?;
            Some(DateTime::from_timestamp(seconds, 0)?.fixed_offset())
        })
        .ok_or("the run's time is unknown")?;
    Ok(Value::Time(parsed, shown.to_string()))
}

fn time_method(time: Value, method: &str, args: Vec<Value>) -> Result<Value, String> {
    let Value::Time(time, _) = time else { unreachable!("run_time gives a time") };
    match (method, args.as_slice()) {
        ("Format", [layout]) => {
            let utc = time.offset().local_minus_utc() == 0;
            Ok(Value::Text(time.format(&chrono_layout(&layout.text(), utc)).to_string()))
        }
        ("Format", _) => Err("`.Time.Format` takes one layout, e.g. `.Time.Format \"20060102\"`".to_string()),
        ("Unix", []) => Ok(Value::Int(time.timestamp())),
        _ => Err(format!("`.Time.{method}` is not supported; use `.Time.Format \"layout\"` or `.Time.Unix`")),
    }
}

fn function(name: &str, args: Vec<Value>) -> Result<Value, String> {
    match name {
        "printf" => {
            let (format, values) =
                args.split_first().ok_or("`printf` needs a format, e.g. `printf \"%.7s\" .CommitID`")?;
            printf(&format.text(), values).map(Value::Text)
        }
        "print" => Ok(Value::Text(args.iter().map(Value::text).collect())),
        "len" => match args.as_slice() {
            [value] => Ok(Value::Int(value.text().chars().count() as i64)),
            _ => Err("`len` takes one value".to_string()),
        },
        "slice" => {
            let (value, bounds) = args.split_first().ok_or("`slice` needs a value, e.g. `slice .CommitID 0 7`")?;
            let text: Vec<char> = value.text().chars().collect();
            let index = |v: &Value| match v {
                Value::Int(i) => usize::try_from(*i).map_err(|_| format!("`slice` bound {i} is negative")),
                other => Err(format!("`slice` bounds are numbers, not `{}`", other.text())),
            };
            let (from, to) = match bounds {
                [] => (0, text.len()),
                [from] => (index(from)?, text.len()),
                [from, to] => (index(from)?, index(to)?),
                _ => return Err("`slice` takes a value and at most two bounds".to_string()),
            };
            if from > to || to > text.len() {
                return Err(format!("`slice` bounds {from}..{to} are outside `{}`", value.text()));
            }
            Ok(Value::Text(text[from..to].iter().collect()))
        }
        other => Err(format!("the function `{other}` is not supported; use {SUPPORTED}")),
    }
}

/// Go's `fmt.Sprintf` for the verbs a tag needs: `%s %v %d %q %x %%`, with flags `-`
/// and `0`, a width and a precision.
fn printf(format: &str, values: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut values = values.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut zero) = (false, false);
        while let Some(&flag) = chars.peek().filter(|f| "-0+ #".contains(**f)) {
            left |= flag == '-';
            zero |= flag == '0';
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            digits.parse::<usize>().ok()
        };
        let width = number(&mut chars);
        let precision = if chars.peek() == Some(&'.') {
            chars.next();
            Some(number(&mut chars).unwrap_or(0))
        } else {
            None
        };
        let verb = chars.next().ok_or_else(|| format!("`{format}` ends in the middle of a `%` verb"))?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let value = values.next().ok_or_else(|| format!("`{format}` has more verbs than values"))?;
        let mut text = match verb {
            's' | 'v' => value.text(),
            'q' => format!("{:?}", value.text()),
            'd' => match value {
                Value::Int(i) => i.to_string(),
                other => other
                    .text()
                    .parse::<i64>()
                    .map_err(|_| format!("`%d` needs a number, not `{}`", other.text()))?
                    .to_string(),
            },
            'x' => value.text().bytes().map(|b| format!("{b:02x}")).collect(),
            other => return Err(format!("the verb `%{other}` is not supported; use %s, %v, %d, %q or %x")),
        };
        if let (Some(precision), 's' | 'v' | 'q') = (precision, verb) {
            text = text.chars().take(precision).collect();
        }
        let pad = width.unwrap_or(0).saturating_sub(text.chars().count());
        if left {
            text.push_str(&" ".repeat(pad));
        } else if zero && verb == 'd' {
            text = format!("{}{text}", "0".repeat(pad));
        } else {
            text = format!("{}{text}", " ".repeat(pad));
        }
        out.push_str(&text);
    }
    Ok(out)
}

/// A Go time layout (`2006-01-02 15:04:05`) as a chrono format string; `Z07:00` is `Z`
/// for a time in UTC, as in Go.
fn chrono_layout(layout: &str, utc: bool) -> String {
    // Longest first where one is the start of another, as Go reads them.
    const CHUNKS: &[(&str, &str)] = &[
        ("January", "%B"),
        ("Jan", "%b"),
        ("Monday", "%A"),
        ("Mon", "%a"),
        ("MST", "%Z"),
        ("2006", "%Y"),
        ("-07:00", "%:z"),
        ("-0700", "%z"),
        ("Z07:00", "Z:%:z"),
        ("Z0700", "Z:%z"),
        ("002", "%j"),
        ("01", "%m"),
        ("02", "%d"),
        ("_2", "%e"),
        ("03", "%I"),
        ("04", "%M"),
        ("05", "%S"),
        ("06", "%y"),
        ("15", "%H"),
        ("PM", "%p"),
        ("pm", "%P"),
        (".000000000", "%.9f"),
        (".000000", "%.6f"),
        (".000", "%.3f"),
        ("1", "%-m"),
        ("2", "%-d"),
        ("3", "%-I"),
        ("4", "%-M"),
        ("5", "%-S"),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while let Some(c) = rest.chars().next() {
        for (go, chrono) in CHUNKS {
            if let Some(after) = rest.strip_prefix(go) {
                let chrono = match chrono.strip_prefix("Z:") {
                    Some(_) if utc => "Z",
                    Some(offset) => offset,
                    None => chrono,
                };
                out.push_str(chrono);
                rest = after;
                continue 'outer;
            }
        }
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> TemplateVars {
        [
            ("Branch", "feature/x"),
            ("CommitID", "0123456789abcdef"),
            ("Time", "2026-03-04 05:06:07.5 +0000 UTC"),
            ("StringTime", "2026-03-04T05:06:07Z"),
            ("Timestamp", "1772600767"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn fields_methods_functions_and_pipes() {
        let v = vars();
        let eval = |action: &str| evaluate(action, &v);
        assert_eq!(eval(".Branch").unwrap(), "feature/x");
        assert_eq!(eval(".Time").unwrap(), "2026-03-04 05:06:07.5 +0000 UTC");
        assert_eq!(eval(".Time.Format \"20060102\"").unwrap(), "20260304");
        assert_eq!(eval(".Time.Format \"2006-01-02T15:04:05Z07:00 Jan Mon\"").unwrap(), "2026-03-04T05:06:07Z Mar Wed");
        assert_eq!(eval(".Time.Unix").unwrap(), "1772600767");
        assert_eq!(eval("printf \"%.7s\" .CommitID").unwrap(), "0123456");
        assert_eq!(eval(".CommitID | printf \"%.7s\"").unwrap(), "0123456");
        assert_eq!(eval("printf \"%s-%05d\" .Branch 42").unwrap(), "feature/x-00042");
        assert_eq!(eval("slice .CommitID 0 7").unwrap(), "0123456");
        assert_eq!(eval("print .Branch \"-\" .Time.Unix").unwrap(), "feature/x-1772600767");
        assert_eq!(eval(".Branch | len").unwrap(), "9");
        assert_eq!(eval("\"literal\"").unwrap(), "literal");
    }

    #[test]
    fn what_is_not_supported_says_what_is() {
        let v = vars();
        let eval = |action: &str| evaluate(action, &v).unwrap_err();
        assert!(eval(".Nope").contains(".Branch"), "{}", eval(".Nope"));
        assert!(eval("upper .Branch").contains("`upper` is not supported"));
        assert!(eval(".Branch.Format \"x\"").contains("only `.Time` has methods"));
        assert!(eval(".Time.Weekday").contains("`.Time.Weekday` is not supported"));
        assert!(eval("printf \"%s %s\" .Branch").contains("more verbs than values"));
        assert!(eval("slice .Branch 3 99").contains("outside"));
        assert!(eval("printf (.Branch)").contains("not supported"));
    }
}
