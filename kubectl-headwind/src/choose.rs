//! Picking the container of a workload to act on when the command line names none.
//!
//! A workload with one container needs no choice. With several, a person at a terminal is
//! shown a numbered list and asked ([`prompt`]); a script is not asked anything, so the caller
//! prints [`numbered`] and stops, telling it to name the container. Reading the terminal and
//! deciding whether there is one are left to the caller, which keeps this testable.

use std::io::{self, BufRead, Write};

use headwind_core::types::Container;

/// Why no container was picked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input ended before a valid answer.
    #[error("no container chosen")]
    NoAnswer,

    /// Reading the answer or writing the question failed.
    #[error("cannot ask for a container")]
    Io(#[from] io::Error),
}

/// The containers as a numbered list, one `  N. name (image)` line each.
#[must_use]
pub fn numbered(containers: &[Container]) -> String {
    containers
        .iter()
        .enumerate()
        .map(|(i, c)| format!("  {}. {} ({})\n", i + 1, c.name, c.image))
        .collect()
}

/// The container an answer names: its number in the list (from 1) or its name.
#[must_use]
pub fn parse_answer<'a>(containers: &'a [Container], answer: &str) -> Option<&'a Container> {
    let answer = answer.trim();

    if let Ok(n) = answer.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| containers.get(i));
    }

    containers.iter().find(|c| c.name == answer)
}

/// Shows the numbered list of `containers` of `workload` on `output` and asks on `input` until
/// the answer names one; returns its name.
///
/// # Errors
///
/// [`Error::NoAnswer`] when `input` ends first, [`Error::Io`] when reading or writing fails.
pub fn prompt<R, W>(
    workload: &str,
    containers: &[Container],
    mut input: R,
    mut output: W,
) -> Result<String, Error>
where
    R: BufRead,
    W: Write,
{
    let count = containers.len();
    writeln!(output, "{workload} has {count} containers:")?;
    output.write_all(numbered(containers).as_bytes())?;

    loop {
        write!(output, "Container [1-{count}]: ")?;
        output.flush()?;

        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            writeln!(output)?;
            return Err(Error::NoAnswer);
        }
        match parse_answer(containers, &line) {
            Some(container) => return Ok(container.name.clone()),
            None => writeln!(output, "{:?} is not one of the containers", line.trim())?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Vec<Container> {
        ["app", "sidecar"]
            .map(|name| Container {
                name: name.to_owned(),
                image: format!("{name}:1.0"),
            })
            .to_vec()
    }

    #[test]
    fn numbered_list_shows_each_name_and_image() {
        assert_eq!(
            numbered(&two()),
            "  1. app (app:1.0)\n  2. sidecar (sidecar:1.0)\n"
        );
    }

    #[test]
    fn answer_may_be_a_number_or_a_name() {
        let containers = two();

        assert_eq!(parse_answer(&containers, "2\n").unwrap().name, "sidecar");
        assert_eq!(parse_answer(&containers, " app ").unwrap().name, "app");
        assert!(parse_answer(&containers, "0").is_none());
        assert!(parse_answer(&containers, "3").is_none());
        assert!(parse_answer(&containers, "db").is_none());
    }

    #[test]
    fn prompt_asks_again_until_the_answer_is_valid() {
        let mut shown = Vec::new();

        let picked = prompt(
            "Deployment default/multi",
            &two(),
            &b"9\nsidecar\n"[..],
            &mut shown,
        );

        let shown = String::from_utf8(shown).unwrap();
        assert_eq!(picked.unwrap(), "sidecar");
        assert!(shown.starts_with("Deployment default/multi has 2 containers:\n  1. app"));
        assert!(
            shown.contains("\"9\" is not one of the containers"),
            "{shown}"
        );
        assert_eq!(shown.matches("Container [1-2]: ").count(), 2, "{shown}");
    }

    #[test]
    fn prompt_gives_up_when_input_ends() {
        let picked = prompt("multi", &two(), &b"nope\n"[..], Vec::new());

        assert!(matches!(picked, Err(Error::NoAnswer)));
    }
}
