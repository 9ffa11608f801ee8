//! Template parsing, matching and binding checks.

use super::*;

fn param<'a>(name: &'a str, ty: &'a str, required: bool) -> ParamInfo<'a> {
    ParamInfo { name, ty, required }
}

#[test]
fn parse_query_template() {
    let template = Template::parse("/hello?name={name}").unwrap();
    assert_eq!(template.segments(), &[Segment::Literal("hello".into())]);
    assert_eq!(
        template.query(),
        &[QueryBinding {
            key: "name".into(),
            param: "name".into()
        }]
    );
    assert_eq!(template.path_pattern(), "/hello");
    assert_eq!(template.as_str(), "/hello?name={name}");
}

#[test]
fn parse_path_and_query_template() {
    let template = Template::parse("/users/{id}/posts?limit={limit}&tag={tag}").unwrap();
    assert_eq!(template.path_pattern(), "/users/{id}/posts");
    let names: Vec<&str> = template.placeholders().collect();
    assert_eq!(names, ["id", "limit", "tag"]);
}

#[test]
fn parse_rejects_bad_templates() {
    let cases = [
        ("hello", "must start with `/`"),
        ("/users/id{id}", "`id{id}` is not a placeholder"),
        ("/users/{}", "`{}` is not a placeholder"),
        ("/users/{1d}", "`{1d}` is not a placeholder"),
        ("/a/{x}?x={x}", "appears more than once"),
        ("/files/{rest+}/tail", "must be the last segment"),
        ("/hello?name=Ada", "must have the form"),
        ("/hello?name", "must have the form"),
        ("/hello?n={name}", "write `name={name}`"),
        ("/two//{b}", "empty segment"),
        ("/two /{b}", "contains a space"),
        ("/two/%zz/{b}", "invalid `%` escape"),
        ("/_portkey/health", "control endpoints"),
    ];
    for (raw, expected) in cases {
        let error = Template::parse(raw).expect_err(raw).to_string();
        assert!(error.contains(expected), "{raw}: {error}");
        assert!(error.contains(raw), "{raw}: the message must name the template: {error}");
    }
}

#[test]
fn match_path_binds_segments() {
    let template = Template::parse("/users/{id}/posts").unwrap();
    assert_eq!(
        template.match_path("/users/42/posts"),
        Some(vec![("id".into(), "42".into())])
    );
    assert_eq!(
        template.match_path("/users/Ada%20L/posts/"),
        Some(vec![("id".into(), "Ada L".into())])
    );
    assert_eq!(template.match_path("/users/42"), None);
    assert_eq!(template.match_path("/users/42/posts/7"), None);
    assert_eq!(template.match_path("/people/42/posts"), None);
}

#[test]
fn match_path_greedy_takes_rest() {
    let template = Template::parse("/files/{rest+}").unwrap();
    assert_eq!(
        template.match_path("/files/a/b/c.txt"),
        Some(vec![("rest".into(), "a/b/c.txt".into())])
    );
    assert_eq!(template.match_path("/files"), None);
}

#[test]
fn match_root_template() {
    let template = Template::parse("/").unwrap();
    assert_eq!(template.path_pattern(), "/");
    assert_eq!(template.match_path("/"), Some(vec![]));
    assert_eq!(template.match_path("/x"), None);
}

#[test]
fn check_bindings_accepts_supplied_params() {
    let template = Template::parse("/users/{id}?verbose={verbose}").unwrap();
    let params = [
        param("id", "u64", true),
        param("verbose", "bool", true),
        param("lang", "Option<String>", false),
    ];
    assert_eq!(template.check_bindings(Method::Get, &params), Ok(()));
}

#[test]
fn check_bindings_rejects_unknown_placeholder() {
    let template = Template::parse("/hello?nme={nme}").unwrap();
    let error = template
        .check_bindings(Method::Get, &[param("name", "String", true)])
        .unwrap_err()
        .to_string();
    assert!(error.contains("`{nme}`"), "{error}");
    assert!(error.contains("its parameters are name"), "{error}");
}

#[test]
fn check_bindings_rejects_unsupplied_required_param() {
    let template = Template::parse("/hello").unwrap();
    let error = template
        .check_bindings(Method::Get, &[param("name", "String", true)])
        .unwrap_err()
        .to_string();
    assert!(error.contains("`name: String` is required"), "{error}");
    assert!(error.contains("--method POST"), "{error}");
}

#[test]
fn check_bindings_body_supplies_params() {
    let template = Template::parse("/render").unwrap();
    let params = [param("text", "String", true)];
    assert_eq!(template.check_bindings(Method::Post, &params), Ok(()));
}

#[test]
fn method_parse_and_accepts() {
    assert_eq!(Method::parse("post"), Ok(Method::Post));
    assert!(Method::parse("FETCH").unwrap_err().to_string().contains("`FETCH`"));
    assert!(Method::Any.accepts("DELETE"));
    assert!(Method::Get.accepts("get"));
    assert!(!Method::Get.accepts("POST"));
}

#[test]
fn percent_decode_handles_invalid_escapes() {
    assert_eq!(percent_decode("a%20b"), "a b");
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz"), "%zz");
    assert_eq!(percent_decode("%C3%A9"), "é");
}

#[test]
fn trailing_slash_and_ampersand_are_accepted() {
    assert_eq!(Template::parse("/hello/").unwrap().path_pattern(), "/hello");
    assert_eq!(Template::parse("/hello?name={name}&").unwrap().query().len(), 1);
}

#[test]
fn overlaps_ignores_placeholder_names() {
    let text = Template::parse("/it/{s}").unwrap();
    assert!(text.overlaps(&Template::parse("/it/{c}").unwrap()));
    assert!(text.overlaps(&Template::parse("/it/{s}?x={x}").unwrap()));
    assert!(!text.overlaps(&Template::parse("/it/fixed").unwrap()));
    assert!(!text.overlaps(&Template::parse("/it/{a}/{b}").unwrap()));
    assert!(!text.overlaps(&Template::parse("/it/{rest+}").unwrap()));
}

#[test]
fn star_takes_every_path_below_the_prefix_and_binds_nothing() {
    let template = Template::parse("/app/*").expect("valid");
    assert_eq!(
        template.segments(),
        &[Segment::Literal("app".into()), Segment::Rest]
    );
    assert_eq!(template.placeholders().count(), 0);
    assert_eq!(template.path_pattern(), "/app/{proxy+}");
    assert_eq!(template.match_path("/app/users/7"), Some(vec![]));
    assert_eq!(template.match_path("/app/x"), Some(vec![]));
    assert_eq!(template.match_path("/app"), None);
    assert_eq!(template.match_path("/other/x"), None);
    assert!(template.overlaps(&Template::parse("/app/{rest+}").expect("valid")));
}

#[test]
fn star_must_be_the_last_segment() {
    let error = Template::parse("/app/*/more").expect_err("star in the middle");
    assert_eq!(
        error.to_string(),
        "invalid URL template `/app/*/more`: `*` takes the rest of the path, so it must be the \
         last segment"
    );
    let error = Template::parse("/a/{rest+}/b").expect_err("greedy in the middle");
    assert!(error.to_string().contains("`{rest+}` takes the rest"), "{error}");
}

#[test]
fn star_inside_a_segment_is_rejected() {
    for template in ["/a/**", "/a/*x", "/a/b*"] {
        let error = Template::parse(template).expect_err(template);
        assert!(error.to_string().contains("mixes `*` with other characters"), "{error}");
    }
    let literal = Template::parse("/a/%2A").expect("an encoded star is a literal");
    assert_eq!(literal.segments(), &[Segment::Literal("a".into()), Segment::Literal("*".into())]);
}
