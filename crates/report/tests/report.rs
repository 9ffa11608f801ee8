//! JSON round trip and text rendering of the shake report.

use portkey_report::{
    ChainLink, CrateBytes, Explanation, FunctionEntry, ImageLayout, InputSummary, KeptRemoved,
    MethodShaking, MethodShakingSummary, NON_RUST_BUCKET, OriginBytes, PhaseTimings, Replacement,
    SHAKEN_OBJECT_ORIGIN, SectionBytes, ShakeReport, SizeMode, SymbolName, Verdict,
    render_explanation, render_text,
};

fn function(name: &str, crate_name: Option<&str>, size: Option<u64>) -> FunctionEntry {
    FunctionEntry {
        name: name.to_string(),
        mangled: format!("_mangled_{}", name.replace("::", "_")),
        crate_name: crate_name.map(str::to_string),
        size_bytes: size,
        ir_hash: None,
        kept_because: Vec::new(),
    }
}

fn sample() -> ShakeReport {
    let mut largest = vec![
        function("core::fmt::write", Some("core"), Some(1_500)),
        function("std::io::stdio::_print", Some("std"), Some(2_048)),
        function("main", None, Some(64)),
    ];
    largest[1].kept_because = vec![
        ChainLink {
            symbol: "main".to_string(),
            mangled: "main".to_string(),
            edge: "root (entry)".to_string(),
        },
        ChainLink {
            symbol: "std::io::stdio::_print".to_string(),
            mangled: "_ZN3std2io5stdio6_print17h0123456789abcdefE".to_string(),
            edge: "call".to_string(),
        },
    ];
    ShakeReport {
        target_triple: "x86_64-unknown-linux-musl".to_string(),
        entry: "main".to_string(),
        inputs: InputSummary {
            bitcode_modules: 21,
            bitcode_bytes: 8_500_000,
            native_inputs: 3,
        },
        functions: KeptRemoved {
            kept: 1_234,
            removed: 20_001,
        },
        globals: KeptRemoved {
            kept: 456,
            removed: 7_890,
        },
        kept_functions: vec![
            function("main", None, Some(64)),
            function("hello::unused_inline", Some("hello"), None),
        ],
        largest_functions: largest,
        bytes_by_crate: vec![
            CrateBytes {
                crate_name: "core".to_string(),
                bytes: 64_000,
                symbols: 300,
            },
            CrateBytes {
                crate_name: "std".to_string(),
                bytes: 66_000,
                symbols: 250,
            },
            CrateBytes {
                crate_name: NON_RUST_BUCKET.to_string(),
                bytes: 120,
                symbols: 2,
            },
        ],
        object_bytes: 150_000,
        codegen_parts: 2,
        binary_bytes: 420_000,
        zip_bytes: None,
        timings_ms: PhaseTimings {
            hash: 25,
            gather: 700,
            graph: 10,
            strip: 25,
            optimise: 1_700,
            codegen: 1_600,
            link: 40,
            layout: 45,
        },
        cache_hit: false,
        explanations: vec![Explanation {
            symbol: Some("_ZN4demo6unused17h0123456789abcdefE".to_string()),
            ..Explanation::new("demo::unused", Verdict::Removed)
        }],
        size_mode: SizeMode::Full,
        replaced: Vec::new(),
        warnings: Vec::new(),
        fingerprint: "5f".repeat(32),
        method_shaking: Some(MethodShakingSummary {
            mode: MethodShaking::On,
            trapped_slots: 12,
            removed_functions: vec![
                "<demo::Square as demo::Shape>::render".to_string(),
                "regex::Regex::new".to_string(),
            ],
        }),
        executor: None,
        layout: Some(sample_layout()),
        linker_stamp: "12345 1700000000000000000".to_string(),
    }
}

fn section(name: &str, file_bytes: u64, shaken_bytes: u64, native_bytes: u64) -> SectionBytes {
    SectionBytes {
        name: name.to_string(),
        file_bytes,
        memory_bytes: file_bytes,
        shaken_bytes,
        native_bytes,
        unnamed_bytes: file_bytes - shaken_bytes - native_bytes,
    }
}

fn sample_layout() -> ImageLayout {
    ImageLayout {
        sections: vec![
            section(".text", 300_000, 250_000, 40_000),
            section(".rodata", 60_000, 20_000, 1_000),
            section(".eh_frame", 50_000, 0, 0),
            SectionBytes {
                memory_bytes: 6_000,
                ..section(".bss", 0, 0, 0)
            },
        ],
        headers_and_padding: 10_000,
        origins: vec![
            OriginBytes {
                origin: SHAKEN_OBJECT_ORIGIN.to_string(),
                bytes: 270_000,
                memory_only_bytes: 200,
                symbols: 700,
            },
            OriginBytes {
                origin: "libc.a".to_string(),
                bytes: 41_000,
                memory_only_bytes: 3_000,
                symbols: 120,
            },
        ],
    }
}

#[test]
fn json_round_trip_preserves_report() {
    let report = sample();
    let json = report.to_json().expect("report serialises");
    let back = ShakeReport::from_json(&json).expect("report parses");
    assert_eq!(back, report);
}

#[test]
fn json_uses_field_names() {
    let json = sample().to_json().expect("report serialises");
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value["target_triple"], "x86_64-unknown-linux-musl");
    assert_eq!(value["functions"]["kept"], 1_234);
    assert_eq!(value["globals"]["removed"], 7_890);
    assert_eq!(value["zip_bytes"], serde_json::Value::Null);
    assert_eq!(value["timings_ms"]["optimise"], 1_700);
    assert_eq!(
        value["kept_functions"][1]["size_bytes"],
        serde_json::Value::Null
    );
    assert!(value["kept_functions"][0].get("kept_because").is_none());
}

#[test]
fn zip_size_added_later_round_trips() {
    let mut report = sample();
    report.zip_bytes = Some(210_000);
    let json = report.to_json().expect("report serialises");
    let back = ShakeReport::from_json(&json).expect("report parses");
    assert_eq!(back.zip_bytes, Some(210_000));
    assert!(render_text(&back).contains("zip        210,000 B"));
}

#[test]
fn text_shows_counts_and_sizes() {
    let text = render_text(&sample());
    assert!(text.contains("x86_64-unknown-linux-musl"), "{text}");
    assert!(text.contains("1,234 kept"), "{text}");
    assert!(text.contains("20,001 removed"), "{text}");
    assert!(text.contains("object     150,000 B"), "{text}");
    assert!(text.contains("binary     420,000 B (stripped)"), "{text}");
    assert!(text.contains("zip        not packaged"), "{text}");
    assert!(text.contains("hash 25, gather 700"), "{text}");
    assert!(text.contains("total 4145"), "{text}");
    assert!(text.contains("codegen 1600 (2 parts),"), "{text}");
    let mut whole = sample();
    whole.codegen_parts = 1;
    let text = render_text(&whole);
    assert!(text.contains("codegen 1600, link"), "{text}");
}

#[test]
fn text_sorts_crates_by_bytes() {
    let text = render_text(&sample());
    let std_at = text.find("\n  std ").expect("std row present");
    let core_at = text.find("\n  core ").expect("core row present");
    let other_at = text.find(NON_RUST_BUCKET).expect("non-Rust row present");
    assert!(std_at < core_at, "{text}");
    assert!(core_at < other_at, "{text}");
    let total_line = text
        .lines()
        .find(|line| line.trim_start().starts_with("total "))
        .expect("total row present");
    assert!(total_line.ends_with("130,120"), "{text}");
}

#[test]
fn text_sorts_functions_by_size() {
    let text = render_text(&sample());
    let print_at = text.find("std::io::stdio::_print").expect("listed");
    let write_at = text.find("core::fmt::write").expect("listed");
    assert!(print_at < write_at, "{text}");
}

#[test]
fn text_is_independent_of_input_order() {
    let report = sample();
    let mut shuffled = report.clone();
    shuffled.bytes_by_crate.reverse();
    shuffled.largest_functions.reverse();
    assert_eq!(render_text(&report), render_text(&shuffled));
}

#[test]
fn text_lists_at_most_twenty_functions() {
    let mut report = sample();
    report.largest_functions = (0..30)
        .map(|index| {
            function(
                &format!("demo::f{index:02}"),
                Some("demo"),
                Some(1_000 + index),
            )
        })
        .collect();
    let text = render_text(&report);
    let listed = text.lines().filter(|line| line.contains("demo::f")).count();
    assert_eq!(listed, 20);
    assert!(text.contains("demo::f29"));
    assert!(!text.contains("demo::f09"));
}

#[test]
fn text_shows_fingerprint_and_method_shaking() {
    let text = render_text(&sample());
    assert!(
        text.contains(&format!("fingerprint {}", "5f".repeat(32))),
        "{text}"
    );
    assert!(
        text.contains("methods    on: 12 slots trapped, 2 functions removed"),
        "{text}"
    );
    assert!(text.contains("regex::Regex::new"), "{text}");
}

#[test]
fn text_shows_method_shaking_off() {
    let mut report = sample();
    report.method_shaking = Some(MethodShakingSummary {
        mode: MethodShaking::Off,
        trapped_slots: 0,
        removed_functions: Vec::new(),
    });
    let text = render_text(&report);
    assert!(text.contains("methods    off"), "{text}");
    assert!(!text.contains("slots trapped"), "{text}");
}

#[test]
fn report_without_new_fields_parses() {
    let mut value = serde_json::to_value(sample()).expect("report serialises");
    let object = value.as_object_mut().expect("report is an object");
    object.remove("fingerprint");
    object.remove("method_shaking");
    let report: ShakeReport = serde_json::from_value(value).expect("older report parses");
    assert_eq!(report.fingerprint, "");
    assert_eq!(report.method_shaking, None);
    let json = serde_json::to_value(sample()).expect("report serialises");
    assert_eq!(json["method_shaking"]["mode"], "on");
    assert_eq!(json["method_shaking"]["trapped_slots"], 12);
}

#[test]
fn explanation_verdict_serialises_in_snake_case() {
    let json = sample().to_json().expect("report serialises");
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value["explanations"][0]["verdict"], "removed");
    let report = sample();
    let explanation = report.explanation("demo::unused").expect("asked for");
    assert_eq!(explanation.verdict, Verdict::Removed);
    assert!(report.explanation("demo::other").is_none());
}

#[test]
fn text_lists_explanations() {
    let text = render_text(&sample());
    assert!(
        text.contains("demo::unused: removed: nothing reachable from main refers to it"),
        "{text}"
    );
}

#[test]
fn report_without_explanations_parses() {
    let mut report = sample();
    report.explanations.clear();
    let json = report.to_json().expect("report serialises");
    assert!(!json.contains("explanations"));
    let back = ShakeReport::from_json(&json).expect("report parses");
    assert!(back.explanations.is_empty());
}

#[test]
fn kept_function_finds_by_either_name() {
    let report = sample();
    assert!(report.kept_function("main").is_some());
    assert!(
        report
            .kept_function("_mangled_hello_unused_inline")
            .is_some()
    );
    assert!(report.kept_function("hello::absent").is_none());
}

#[test]
fn report_of_an_older_linker_parses() {
    let mut value: serde_json::Value =
        serde_json::from_str(&sample().to_json().expect("report serialises")).expect("valid JSON");
    let object = value.as_object_mut().expect("report is an object");
    object.remove("cache_hit");
    object["timings_ms"]
        .as_object_mut()
        .expect("timings are an object")
        .remove("hash");
    let back = ShakeReport::from_json(&value.to_string()).expect("report parses");
    assert!(!back.cache_hit);
    assert_eq!(back.timings_ms.hash, 0);
}

#[test]
fn text_shows_sections_and_inputs() {
    let text = render_text(&sample());
    assert!(
        text.contains("executable by section (420,000 B in the file"),
        "{text}"
    );
    assert!(
        text.contains("  .text                    300,000    250,000     40,000     10,000"),
        "{text}"
    );
    assert!(text.contains("  .bss                     (6,000)"), "{text}");
    assert!(text.contains("  headers and padding       10,000"), "{text}");
    assert!(
        text.contains("  (shaken object)    270,000          200      700"),
        "{text}"
    );
    assert!(
        text.contains("  libc.a              41,000        3,000      120"),
        "{text}"
    );
}

#[test]
fn report_without_layout_parses() {
    let mut value: serde_json::Value =
        serde_json::from_str(&sample().to_json().expect("report serialises")).expect("valid JSON");
    value.as_object_mut().expect("object").remove("layout");
    value["timings_ms"]
        .as_object_mut()
        .expect("timings object")
        .remove("layout");
    let back = ShakeReport::from_json(&value.to_string()).expect("report parses");
    assert_eq!(back.layout, None);
    assert_eq!(back.timings_ms.layout, 0);
}

#[test]
fn cache_hit_text_shows_hash_only() {
    let mut report = sample();
    report.cache_hit = true;
    report.timings_ms = PhaseTimings {
        hash: 90,
        ..PhaseTimings::default()
    };
    let text = render_text(&report);
    assert!(text.contains("hash 90 (cache hit"), "{text}");
    assert!(!text.contains("optimise"), "{text}");
}

fn kept_explanation() -> Explanation {
    Explanation {
        symbol: Some("_ZN5hello7flatter17h0123456789abcdefE".to_string()),
        name: Some("hello::flatter".to_string()),
        kept_because: vec![
            ChainLink {
                symbol: "main".to_string(),
                mangled: "main".to_string(),
                edge: "root (entry)".to_string(),
            },
            ChainLink {
                symbol: "<T as demo::Speak>::speak".to_string(),
                mangled: "_ZN4demo5speak17h0123456789abcdefE".to_string(),
                edge: "vtable slot".to_string(),
            },
            ChainLink {
                symbol: "hello::flatter".to_string(),
                mangled: "_ZN5hello7flatter17h0123456789abcdefE".to_string(),
                edge: "call".to_string(),
            },
        ],
        size_bytes: Some(1_234),
        ..Explanation::new("flatter", Verdict::Kept)
    }
}

#[test]
fn kept_explanation_renders_one_step_per_line() {
    let text = render_explanation(&kept_explanation(), "main");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "hello::flatter: kept, 3 steps from a root");
    assert_eq!(lines[1], "  root (entry)  main");
    assert_eq!(lines[2], "  vtable slot   <T as demo::Speak>::speak");
    assert_eq!(lines[3], "  call          hello::flatter");
    assert_eq!(lines[4], "in the image: 1,234 B of machine code");
    assert_eq!(lines.len(), 5, "{text}");
}

#[test]
fn inlined_and_declared_symbols_say_so() {
    let mut explanation = kept_explanation();
    explanation.size_bytes = None;
    explanation.inlined = true;
    explanation.declaration_only = true;
    let text = render_explanation(&explanation, "main");
    assert!(text.contains("the optimiser inlined"), "{text}");
    assert!(text.contains("definition comes from native code"), "{text}");

    explanation.symbol = Some("llvm.memcpy.p0.p0.i64".to_string());
    let text = render_explanation(&explanation, "main");
    assert!(text.contains("an LLVM intrinsic"), "{text}");
    assert!(!text.contains("native code"), "{text}");
}

#[test]
fn removed_explanation_names_the_entry() {
    let explanation = Explanation {
        name: Some("hello::unused".to_string()),
        ..Explanation::new("unused", Verdict::Removed)
    };
    assert_eq!(
        render_explanation(&explanation, "main"),
        "hello::unused: removed: nothing reachable from main refers to it\n"
    );
}

#[test]
fn ambiguous_explanation_lists_candidates() {
    let explanation = Explanation {
        candidates: vec![
            SymbolName {
                name: "a::drop".to_string(),
                mangled: "_ZN1a4drop17h0000000000000001E".to_string(),
            },
            SymbolName {
                name: "drop_c".to_string(),
                mangled: "drop_c".to_string(),
            },
        ],
        match_count: 14,
        ..Explanation::new("drop", Verdict::Ambiguous)
    };
    let text = render_explanation(&explanation, "main");
    assert!(text.starts_with("`drop` matches 14 symbols"), "{text}");
    assert!(text.contains("(first 2 in name order)"), "{text}");
    assert!(
        text.contains("\n  a::drop  [_ZN1a4drop17h0000000000000001E]\n"),
        "{text}"
    );
    assert!(text.ends_with("\n  drop_c\n"), "{text}");
    let json = serde_json::to_value(&explanation).expect("serialises");
    assert_eq!(json["verdict"], "ambiguous");
    assert_eq!(json["match_count"], 14);
    assert_eq!(
        json["candidates"][0]["mangled"],
        "_ZN1a4drop17h0000000000000001E"
    );
}

#[test]
fn unknown_explanation_lists_near_matches() {
    let explanation = Explanation {
        near_matches: vec!["hello::flatter".to_string()],
        ..Explanation::new("hello::flater", Verdict::NotFound)
    };
    let text = render_explanation(&explanation, "main");
    assert!(text.starts_with("`hello::flater`: not found"), "{text}");
    assert!(text.contains("near matches:\n  hello::flatter"), "{text}");
    let bare = render_explanation(&Explanation::new("zzz", Verdict::NotFound), "main");
    assert!(!bare.contains("near matches"), "{bare}");
}

#[test]
fn size_mode_defaults_when_absent() {
    let mut value: serde_json::Value =
        serde_json::from_str(&sample().to_json().expect("report serialises")).expect("valid JSON");
    assert_eq!(value["size_mode"], "full");
    let object = value.as_object_mut().expect("report is an object");
    object.remove("size_mode");
    let back: ShakeReport = serde_json::from_value(value.clone()).expect("report parses");
    assert_eq!(back.size_mode, SizeMode::Min);
    // Reports written before `min` became the default name the full mode `default`.
    value["size_mode"] = serde_json::Value::from("default");
    let old: ShakeReport = serde_json::from_value(value).expect("old report parses");
    assert_eq!(old.size_mode, SizeMode::Full);
}

#[test]
fn min_mode_lists_replacements() {
    let mut report = sample();
    report.size_mode = SizeMode::Min;
    report.replaced = vec![Replacement {
        name: "std::sys::backtrace::_print_fmt".to_string(),
        new_body: "returns Ok(())".to_string(),
        symbols: 1,
    }];
    report.warnings = vec!["`demo::missing` not found".to_string()];
    let json = report.to_json().expect("report serialises");
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value["size_mode"], "min");
    assert_eq!(
        value["replaced"][0]["name"],
        "std::sys::backtrace::_print_fmt"
    );
    assert_eq!(
        ShakeReport::from_json(&json).expect("report parses"),
        report
    );
    let text = render_text(&report);
    assert!(text.contains("size mode  min"), "{text}");
    assert!(
        text.contains("replaced std::sys::backtrace::_print_fmt (1 symbols): returns Ok(())"),
        "{text}"
    );
    assert!(
        text.contains("warning: `demo::missing` not found"),
        "{text}"
    );
}

#[test]
fn size_mode_parses_its_names() {
    for mode in [SizeMode::Full, SizeMode::Min] {
        assert_eq!(SizeMode::parse(mode.as_str()), Some(mode));
    }
    assert_eq!(SizeMode::parse("tiny"), None);
    assert_eq!(SizeMode::parse("default"), None);
}
