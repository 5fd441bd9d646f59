//! Aligned text tables for the commands for people, with status words coloured on a
//! terminal (green for settled and well, yellow for moving, red for failed or stopped).

/// A table: a header row and rows of cells, printed with columns padded to their widest
/// cell.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

/// ANSI colours the tables use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    Green,
    Yellow,
    Red,
    Dim,
}

impl Colour {
    fn code(self) -> &'static str {
        match self {
            Colour::Green => "32",
            Colour::Yellow => "33",
            Colour::Red => "31",
            Colour::Dim => "2",
        }
    }
}

/// The colour of an ECS, ELBv2 or deployment status word, if it has one.
pub fn status_colour(word: &str) -> Option<Colour> {
    match word {
        "RUNNING" | "ACTIVE" | "HEALTHY" | "COMPLETED" | "PRIMARY" | "healthy" | "connected" => {
            Some(Colour::Green)
        }
        "PROVISIONING" | "PENDING" | "ACTIVATING" | "DEACTIVATING" | "STOPPING"
        | "DEPROVISIONING" | "IN_PROGRESS" | "DRAINING" | "initial" | "draining" | "unused" => {
            Some(Colour::Yellow)
        }
        "STOPPED" | "FAILED" | "UNHEALTHY" | "INACTIVE" | "unhealthy" | "disconnected" => {
            Some(Colour::Red)
        }
        _ => None,
    }
}

/// `text` in `colour` when `on`.
pub fn paint(text: &str, colour: Option<Colour>, on: bool) -> String {
    match colour {
        Some(c) if on => format!("\x1b[{}m{text}\x1b[0m", c.code()),
        _ => text.to_string(),
    }
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as lines: a header, then the rows; status words painted when `colour`.
    pub fn render(&self, colour: bool) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = (usize, String, Option<Colour>)>| {
            let mut out = String::new();
            for (i, text, c) in cells {
                let pad = widths[i].saturating_sub(text.chars().count());
                let last = i + 1 == columns;
                out.push_str(&paint(&text, c, colour));
                if !last {
                    out.push_str(&" ".repeat(pad + 2));
                }
            }
            out.trim_end().to_string()
        };
        let mut out = line(
            &mut self
                .headers
                .iter()
                .enumerate()
                .map(|(i, h)| (i, h.to_string(), Some(Colour::Dim))),
        );
        out.push('\n');
        for row in &self.rows {
            let mut cells = (0..columns).map(|i| {
                let text = row.get(i).cloned().unwrap_or_default();
                let c = status_colour(&text);
                (i, text, c)
            });
            out.push_str(&line(&mut cells));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_colour_only_when_asked() {
        let mut t = Table::new(&["NAME", "STATUS", "TASKS"]);
        t.row(vec!["web".into(), "ACTIVE".into(), "3/3".into()]);
        t.row(vec!["worker-long".into(), "DRAINING".into(), "0/1".into()]);
        let plain = t.render(false);
        assert_eq!(
            plain,
            "NAME         STATUS    TASKS\nweb          ACTIVE    3/3\nworker-long  DRAINING  0/1\n"
        );
        assert!(!plain.contains('\x1b'));
        let coloured = t.render(true);
        assert!(coloured.contains("\x1b[32mACTIVE\x1b[0m"));
        assert!(coloured.contains("\x1b[33mDRAINING\x1b[0m"));
    }

    #[test]
    fn status_words() {
        assert_eq!(status_colour("STOPPED"), Some(Colour::Red));
        assert_eq!(status_colour("IN_PROGRESS"), Some(Colour::Yellow));
        assert_eq!(status_colour("web"), None);
    }
}
