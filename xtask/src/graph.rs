//! `cargo xtask graph`: the platform's diagrams (`eventforge_stacks::platform::diagram`) as
//! Mermaid (`*.mmd`, which GitHub and most Markdown viewers draw) and as SVG, laid out and drawn
//! by layout-rs. The committed copies in `docs/diagrams/` are what README.md and ARCHITECTURE.md
//! show; a test fails when they differ from what the model draws today.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use eventforge_stacks::platform::diagram::{self, Diagram, Shape};
use eventforge_stacks::platform::{self, Config, Stage};
use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use crate::synth::StageArg;

/// Where the committed diagrams live, relative to the workspace.
pub const DIAGRAMS_DIR: &str = "docs/diagrams";

#[derive(Args)]
pub struct GraphArgs {
    /// The directory to write `<diagram>.mmd` and `<diagram>.svg` into (created if missing).
    #[arg(long, default_value = DIAGRAMS_DIR)]
    pub out: PathBuf,
    /// The stage whose stacks are drawn.
    #[arg(long, value_enum, default_value_t = StageArg::Dev)]
    pub stage: StageArg,
}

pub fn run(args: &GraphArgs) -> Result<()> {
    let written = write_all(&args.out, args.stage.into())?;
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Draws every diagram into `dir`; returns the files written.
pub fn write_all(dir: &Path, stage: Stage) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let assembly = platform::synth(&Config::for_stage(stage))?;
    let mut written = Vec::new();
    for diagram in diagram::all(&assembly) {
        for (extension, text) in [("mmd", mermaid(&diagram)), ("svg", svg(&diagram))] {
            let path = dir.join(format!("{}.{extension}", diagram.name));
            fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// A label inside Mermaid's quotes: its own quote character is an entity there.
fn quoted(label: &str) -> String {
    format!("\"{}\"", label.replace('"', "#quot;"))
}

/// The diagram as a Mermaid flowchart. Mermaid is a small text format: writing it is this
/// project's own job; drawing it is the viewer's.
pub fn mermaid(diagram: &Diagram) -> String {
    let mut out = format!(
        "---\ntitle: {}\n---\nflowchart {}\n",
        diagram.title,
        if diagram.left_to_right { "LR" } else { "TB" }
    );
    for (index, group) in diagram.groups.iter().enumerate() {
        let indent = if group.label.is_empty() {
            "  "
        } else {
            out.push_str(&format!(
                "  subgraph group{index}[{}]\n",
                quoted(&group.label)
            ));
            "    "
        };
        for node in &group.nodes {
            let label = quoted(&node.label);
            let shaped = match node.shape {
                Shape::Box => format!("[{label}]"),
                Shape::Service => format!("([{label}])"),
                Shape::Queue => format!("[({label})]"),
                Shape::Decision => format!("{{{label}}}"),
                Shape::End => format!("(({label}))"),
            };
            out.push_str(&format!("{indent}{}{shaped}\n", node.id));
        }
        if !group.label.is_empty() {
            out.push_str("  end\n");
        }
    }
    for edge in &diagram.edges {
        let arrow = match (edge.on_failure, edge.label.is_empty()) {
            (false, true) => "-->".to_owned(),
            (false, false) => format!("-->|{}|", quoted(&edge.label)),
            (true, true) => "-.->".to_owned(),
            (true, false) => format!("-.->|{}|", quoted(&edge.label)),
        };
        out.push_str(&format!("  {} {arrow} {}\n", edge.from, edge.to));
    }
    out
}

/// The diagram drawn as SVG by layout-rs (which draws no groups; the Mermaid copy has them).
pub fn svg(diagram: &Diagram) -> String {
    let orientation = if diagram.left_to_right {
        Orientation::LeftToRight
    } else {
        Orientation::TopToBottom
    };
    let mut graph = VisualGraph::new(orientation);
    let mut handles = std::collections::BTreeMap::new();
    for node in diagram.nodes() {
        let shape = match node.shape {
            Shape::End => ShapeKind::new_double_circle(&node.label),
            _ => ShapeKind::new_box(&node.label),
        };
        let (fill, rounded) = match node.shape {
            Shape::Box => ("white", 0),
            Shape::Service => ("lightblue", 15),
            Shape::Queue => ("lightyellow", 5),
            Shape::Decision => ("lavender", 0),
            Shape::End => ("honeydew", 0),
        };
        let font_size = 14;
        let look = StyleAttr::new(
            Color::fast("black"),
            1,
            Some(Color::fast(fill)),
            rounded,
            font_size,
        );
        let size = get_shape_size(orientation, &shape, font_size, false);
        let handle = graph.add_node(Element::create(shape, look, orientation, size));
        handles.insert(node.id.as_str(), handle);
    }
    for edge in &diagram.edges {
        let (Some(&from), Some(&to)) = (
            handles.get(edge.from.as_str()),
            handles.get(edge.to.as_str()),
        ) else {
            continue;
        };
        let (style, colour) = if edge.on_failure {
            (LineStyleKind::Dashed, "firebrick")
        } else {
            (LineStyleKind::Normal, "black")
        };
        let look = StyleAttr::new(Color::fast(colour), 1, None, 0, 12);
        let arrow = Arrow::new(
            LineEndKind::None,
            LineEndKind::Arrow,
            style,
            &edge.label,
            &look,
            &None,
            &None,
        );
        graph.add_edge(arrow, from, to);
    }
    let mut writer = SVGWriter::new();
    graph.do_it(false, false, false, &mut writer);
    with_sorted_styles(&writer.finalize())
}

/// layout-rs writes its font classes from a hash map, in a different order each run: sorted, the
/// same model gives the same file (and the committed copy can be compared).
fn with_sorted_styles(svg: &str) -> String {
    let (Some(start), Some(end)) = (svg.find("<style>\n"), svg.find("</style>")) else {
        return svg.to_owned();
    };
    let body = start + "<style>\n".len();
    let mut rules: Vec<&str> = svg[body..end].lines().collect();
    rules.sort_unstable();
    format!("{}{}\n{}", &svg[..body], rules.join("\n"), &svg[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_names_every_node_and_dashes_the_failure_arrows() {
        let assembly = platform::synth(&Config::for_stage(Stage::Dev)).expect("synth");
        let flow = diagram::event_flow();
        let text = mermaid(&flow);
        assert!(text.starts_with("---\ntitle: Event flow\n---\nflowchart LR\n"));
        for node in flow.nodes() {
            assert!(
                text.contains(&format!("{}[", node.id))
                    || text.contains(&format!("{}(", node.id))
                    || text.contains(&format!("{}{{", node.id)),
                "{}",
                node.id
            );
        }
        assert!(text.contains("queue_email -.->|\"after 5 receives\"| queue_email_dlq"));
        assert!(text.contains("subgraph group0[\"Producers\"]"));
        let stacks = mermaid(&diagram::stacks(&assembly));
        assert!(stacks.contains("flowchart LR\n  stack_"));
    }

    #[test]
    fn the_committed_diagrams_are_what_the_model_draws_today() {
        let drawn = tempfile::tempdir().expect("dir");
        let committed = crate::process::workspace_root().join(DIAGRAMS_DIR);
        for path in write_all(drawn.path(), Stage::Dev).expect("draw") {
            let name = path.file_name().expect("a file");
            let today = fs::read_to_string(&path).expect("drawn");
            let before = fs::read_to_string(committed.join(name)).unwrap_or_default();
            assert!(
                today == before,
                "{DIAGRAMS_DIR}/{} is not what the model draws today: run `cargo xtask graph` and commit it",
                name.to_string_lossy()
            );
        }
    }

    #[test]
    fn a_quote_in_a_label_cannot_end_it() {
        assert_eq!(quoted("the \"saga\""), "\"the #quot;saga#quot;\"");
    }

    #[test]
    fn the_svg_draws_every_box_with_its_label() {
        let saga = diagram::saga(&eventforge_topology::saga::saga_definition());
        let drawn = svg(&saga);
        assert!(drawn.starts_with("<?xml") && drawn.contains("<svg "));
        for node in saga.nodes() {
            let first_word = node.label.split([' ', ':']).next().expect("a label");
            assert!(drawn.contains(first_word), "{first_word} is not drawn");
        }
    }
}
