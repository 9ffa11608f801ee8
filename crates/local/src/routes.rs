//! The gateway's route table: which mount serves a request's method and path. As in API
//! Gateway, routing looks at the path only, because query bindings are the function's concern.
//! The most specific route wins. At the first segment where two matching routes differ, a
//! literal beats a placeholder, which beats a greedy placeholder. For equal paths, a route of
//! the request's own method beats an `ANY` route.

use std::cmp::Ordering;

use portkey_route::{Method, Segment, Template};

/// One mounted route.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub method: Method,
    pub template: Template,
    pub function: String,
}

impl Route {
    /// Returns the API Gateway route key, for example `GET /users/{id}`.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.template.path_pattern())
    }
}

/// The result of resolving a request against the routes.
#[derive(Debug)]
pub(crate) enum Resolution<'a> {
    Found {
        route: &'a Route,
        path_parameters: Vec<(String, String)>,
    },
    /// Routes match the path, but none accepts the method; `allowed` lists their methods.
    MethodNotAllowed {
        allowed: Vec<Method>,
    },
    NotFound,
}

/// Finds the route for a request of `method` to `path` (the path without its query string).
pub(crate) fn resolve<'a>(routes: &'a [Route], method: &str, path: &str) -> Resolution<'a> {
    let matching: Vec<(&Route, Vec<(String, String)>)> = routes
        .iter()
        .filter_map(|route| {
            route
                .template
                .match_path(path)
                .map(|parameters| (route, parameters))
        })
        .collect();
    if matching.is_empty() {
        return Resolution::NotFound;
    }

    let best = matching
        .iter()
        .filter(|(route, _)| route.method.accepts(method))
        .min_by(|(left, _), (right, _)| compare_routes(left, right));
    match best {
        Some((route, parameters)) => Resolution::Found {
            route,
            path_parameters: parameters.clone(),
        },
        None => {
            let mut allowed: Vec<Method> = matching.iter().map(|(route, _)| route.method).collect();
            allowed.sort();
            allowed.dedup();
            Resolution::MethodNotAllowed { allowed }
        }
    }
}

/// Orders routes from most to least specific; ties fall back to the function name so the
/// choice does not depend on the order of `portkey.json`.
fn compare_routes(left: &Route, right: &Route) -> Ordering {
    let by_path = specificity(&right.template).cmp(&specificity(&left.template));
    let by_method = (left.method == Method::Any).cmp(&(right.method == Method::Any));
    by_path
        .then(by_method)
        .then_with(|| left.function.cmp(&right.function))
}

/// Returns the rank of each path segment, for lexicographic comparison: 2 for a literal, 1 for
/// a placeholder, 0 for a greedy placeholder.
fn specificity(template: &Template) -> Vec<u8> {
    template
        .segments()
        .iter()
        .map(|segment| match segment {
            Segment::Literal(_) => 2,
            Segment::Param(_) => 1,
            Segment::Greedy(_) | Segment::Rest => 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, template: &str, function: &str) -> Route {
        Route {
            method: Method::parse(method).expect("method"),
            template: Template::parse(template).expect("template"),
            function: function.to_string(),
        }
    }

    fn found<'a>(routes: &'a [Route], method: &str, path: &str) -> Option<&'a str> {
        match resolve(routes, method, path) {
            Resolution::Found { route, .. } => Some(route.function.as_str()),
            _ => None,
        }
    }

    #[test]
    fn literal_beats_placeholder() {
        let routes = [
            route("GET", "/users/{id}", "by_id"),
            route("GET", "/users/me", "me"),
            route("GET", "/{rest+}", "catch_all"),
        ];

        assert_eq!(found(&routes, "GET", "/users/me"), Some("me"));
        assert_eq!(found(&routes, "GET", "/users/42"), Some("by_id"));
        assert_eq!(found(&routes, "GET", "/other/path"), Some("catch_all"));
    }

    #[test]
    fn longer_literal_prefix_beats_greedy() {
        let routes = [
            route("GET", "/a/{rest+}", "short"),
            route("GET", "/a/b/{rest+}", "long"),
        ];

        assert_eq!(found(&routes, "GET", "/a/b/c"), Some("long"));
        assert_eq!(found(&routes, "GET", "/a/x/c"), Some("short"));
    }

    #[test]
    fn exact_method_beats_any() {
        let routes = [
            route("ANY", "/items", "any"),
            route("POST", "/items", "post"),
        ];

        assert_eq!(found(&routes, "POST", "/items"), Some("post"));
        assert_eq!(found(&routes, "DELETE", "/items"), Some("any"));
    }

    #[test]
    fn method_mismatch_lists_allowed() {
        let routes = [route("GET", "/items", "get"), route("PUT", "/items", "put")];

        let Resolution::MethodNotAllowed { allowed } = resolve(&routes, "POST", "/items") else {
            panic!("expected MethodNotAllowed");
        };
        assert_eq!(allowed, [Method::Get, Method::Put]);
    }

    #[test]
    fn unknown_path_is_not_found() {
        let routes = [route("GET", "/items", "get")];

        assert!(matches!(
            resolve(&routes, "GET", "/nothing"),
            Resolution::NotFound
        ));
    }

    #[test]
    fn path_parameters_are_decoded() {
        let routes = [route("GET", "/users/{id}/files/{path+}", "files")];

        let Resolution::Found {
            path_parameters, ..
        } = resolve(&routes, "GET", "/users/a%20b/files/x/y.txt")
        else {
            panic!("expected Found");
        };
        assert_eq!(
            path_parameters,
            [
                ("id".to_string(), "a b".to_string()),
                ("path".to_string(), "x/y.txt".to_string())
            ]
        );
    }

    #[test]
    fn route_key_uses_path_pattern() {
        assert_eq!(
            route("GET", "/hello?name={name}", "f").route_key(),
            "GET /hello"
        );
        assert_eq!(
            route("ANY", "/files/{rest+}", "f").route_key(),
            "ANY /files/{rest+}"
        );
    }
}
