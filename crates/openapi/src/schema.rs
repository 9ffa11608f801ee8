//! JSON schemas (the OpenAPI 3.0 dialect) of Rust types as written in a signature. Primitives,
//! strings, collections, maps, `Option` and smart pointers map directly. A named struct or enum
//! is looked up in the sources of the function's package. A struct with named fields becomes an
//! object with its fields, honouring serde's `rename`, `rename_all`, `skip` and `default`. An
//! enum of unit variants becomes a string enumeration. Each goes once into
//! `components/schemas`. A type whose source is not found is described as any value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use quote::ToTokens;
use serde_json::{Map, Value, json};
use syn::{Fields, GenericArgument, Item, PathArguments, Type};

/// The schemas of one document: the parsed sources they are read from and the named types
/// collected so far.
#[derive(Default)]
pub struct Schemas {
    /// Parsed source files, by path, read on first use.
    files: BTreeMap<PathBuf, Option<syn::File>>,
    /// The sources of each package directory, listed on first use.
    package_files: BTreeMap<PathBuf, Vec<PathBuf>>,
    /// Schemas of named types, for `components/schemas`.
    pub components: BTreeMap<String, Value>,
    /// Named types whose schema is being built, so that recursive types end in a `$ref`.
    building: BTreeSet<String>,
    /// The definition behind each component name (file, module and name), so that two types of
    /// the same name in different modules get different components.
    definitions: BTreeMap<String, String>,
    /// The component names that are neither derived nor implemented as `Serialize`.
    not_serialize: BTreeSet<String>,
}

/// A struct or enum found in the sources, with where it was found.
struct Found {
    item: Item,
    /// The module that directly contains it: an inline `mod`, or the file's own module; `None`
    /// at the crate root.
    module: Option<String>,
    file: PathBuf,
}

/// The places a signature's named types are looked up in: the function's own file first, then
/// every file of its package.
#[derive(Clone, Copy)]
pub struct Origin<'a> {
    pub source_file: &'a Path,
    pub package_dir: &'a Path,
}

impl Schemas {
    /// Returns the schema of `ty`.
    pub fn of(&mut self, ty: &Type, origin: Origin<'_>) -> Value {
        match ty {
            Type::Reference(reference) => self.of(&reference.elem, origin),
            Type::Paren(inner) => self.of(&inner.elem, origin),
            Type::Group(inner) => self.of(&inner.elem, origin),
            Type::Slice(slice) => json!({ "type": "array", "items": self.of(&slice.elem, origin) }),
            Type::Array(array) => json!({ "type": "array", "items": self.of(&array.elem, origin) }),
            Type::Tuple(tuple) if tuple.elems.is_empty() => json!({ "nullable": true }),
            Type::Tuple(tuple) => {
                let count = tuple.elems.len();
                json!({ "type": "array", "minItems": count, "maxItems": count })
            }
            Type::Path(path) if path.qself.is_none() => {
                let Some(last) = path.path.segments.last() else {
                    return json!({});
                };
                let arguments = type_arguments(&last.arguments);
                let segments = &path.path.segments;
                let module = (segments.len() > 1)
                    .then(|| segments[segments.len() - 2].ident.to_string())
                    .filter(|module| !matches!(module.as_str(), "crate" | "self" | "super"));
                self.of_named(&last.ident.to_string(), module.as_deref(), &arguments, origin)
            }
            _ => json!({}),
        }
    }

    fn of_named(&mut self, name: &str, module: Option<&str>, arguments: &[&Type], origin: Origin<'_>) -> Value {
        if let Some(schema) = primitive(name) {
            return schema;
        }
        match (name, arguments) {
            ("Option", [inner]) => {
                let schema = self.of(inner, origin);
                // OpenAPI 3.0 ignores the siblings of a `$ref`, so a nullable reference needs
                // `allOf`.
                if schema.get("$ref").is_some() {
                    return json!({ "allOf": [schema], "nullable": true });
                }
                let mut schema = schema;
                if let Value::Object(object) = &mut schema {
                    object.insert("nullable".to_string(), Value::Bool(true));
                }
                schema
            }
            ("Vec" | "VecDeque" | "LinkedList" | "HashSet" | "BTreeSet" | "BinaryHeap" | "IndexSet", [item]) => {
                let mut schema = json!({ "type": "array", "items": self.of(item, origin) });
                if name.ends_with("Set") {
                    schema["uniqueItems"] = Value::Bool(true);
                }
                schema
            }
            ("HashMap" | "BTreeMap" | "IndexMap", [_, value]) => {
                json!({ "type": "object", "additionalProperties": self.of(value, origin) })
            }
            ("Box" | "Rc" | "Arc" | "Cow", [inner]) => self.of(inner, origin),
            ("Value", []) | ("Map", _) => json!({}),
            _ => self.of_defined(name, module, origin),
        }
    }

    /// Returns a `$ref` to the schema of a struct or enum defined in the package's sources, or
    /// the empty schema when no definition is found. `module` is the path segment before the
    /// name, which picks among types of the same name.
    fn of_defined(&mut self, name: &str, module: Option<&str>, origin: Origin<'_>) -> Value {
        let Some(found) = self.find_item(name, module, origin) else {
            return json!({ "description": format!("`{name}`, whose definition portkey did not find") });
        };
        let identity = format!("{}::{}::{name}", found.file.display(), found.module.as_deref().unwrap_or(""));
        let key = match self.definitions.get(name) {
            Some(existing) if *existing != identity => {
                format!("{}.{name}", found.module.as_deref().unwrap_or("root"))
            }
            _ => name.to_string(),
        };
        let reference = json!({ "$ref": format!("#/components/schemas/{key}") });
        if self.components.contains_key(&key) || self.building.contains(&key) {
            return reference;
        }
        self.definitions.entry(key.clone()).or_insert(identity);
        if !self.is_serialize(&found.item, name, origin) {
            self.not_serialize.insert(key.clone());
        }
        self.building.insert(key.clone());
        let schema = match &found.item {
            Item::Struct(item) => self.of_struct(item, origin),
            Item::Enum(item) => of_enum(item),
            _ => json!({}),
        };
        self.building.remove(&key);
        self.components.insert(key, schema);
        reference
    }

    /// Returns whether the response of type `ty` is text rather than JSON: a type defined in the
    /// package that neither derives nor implements `Serialize` can only be sent as its `Display`
    /// text.
    pub fn is_text_only(&mut self, ty: &Type, origin: Origin<'_>) -> bool {
        let schema = self.of(ty, origin);
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
            return false;
        };
        let key = reference.trim_start_matches("#/components/schemas/");
        self.not_serialize.contains(key)
    }

    /// Returns whether the item derives `Serialize`, or a file of the package implements it.
    fn is_serialize(&mut self, item: &Item, name: &str, origin: Origin<'_>) -> bool {
        let attrs = match item {
            Item::Struct(item) => &item.attrs,
            Item::Enum(item) => &item.attrs,
            _ => return true,
        };
        let derived = attrs.iter().filter(|attr| attr.path().is_ident("derive")).any(|attr| {
            let mut found = false;
            let _ = attr.parse_nested_meta(|meta| {
                found |= meta.path.segments.last().is_some_and(|last| last.ident == "Serialize");
                Ok(())
            });
            found
        });
        if derived {
            return true;
        }
        let mut files = vec![origin.source_file.to_path_buf()];
        files.extend(self.files_of(origin.package_dir));
        files.iter().any(|file| {
            self.parsed(file)
                .is_some_and(|parsed| implements(&parsed.items, "Serialize", name))
        })
    }

    fn of_struct(&mut self, item: &syn::ItemStruct, origin: Origin<'_>) -> Value {
        let rename_all = serde_value(&item.attrs, "rename_all");
        match &item.fields {
            Fields::Named(fields) => {
                let mut properties = Map::new();
                let mut required = Vec::new();
                let container_default = serde_flag(&item.attrs, "default");
                let mut flattened = Vec::new();
                for field in &fields.named {
                    if serde_flag(&field.attrs, "skip") {
                        continue;
                    }
                    // A flattened field's own fields sit beside the others.
                    if serde_flag(&field.attrs, "flatten") {
                        flattened.push(self.of(&field.ty, origin));
                        continue;
                    }
                    let Some(ident) = &field.ident else { continue };
                    let rust_name = ident.to_string().trim_start_matches("r#").to_string();
                    let name = serde_value(&field.attrs, "rename")
                        .unwrap_or_else(|| rename(&rust_name, rename_all.as_deref()));
                    // A field one direction skips is absent from requests or from responses.
                    let optional = is_option(&field.ty)
                        || container_default
                        || serde_flag(&field.attrs, "default")
                        || serde_flag(&field.attrs, "skip_deserializing")
                        || serde_flag(&field.attrs, "skip_serializing")
                        || serde_flag(&field.attrs, "skip_serializing_if");
                    if !optional {
                        required.push(Value::String(name.clone()));
                    }
                    properties.insert(name, self.of(&field.ty, origin));
                }
                let mut schema = json!({ "type": "object", "properties": properties });
                if !required.is_empty() {
                    schema["required"] = Value::Array(required);
                }
                if flattened.is_empty() {
                    return schema;
                }
                flattened.insert(0, schema);
                json!({ "allOf": flattened })
            }
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                self.of(&fields.unnamed[0].ty, origin)
            }
            Fields::Unnamed(fields) => {
                let count = fields.unnamed.len();
                json!({ "type": "array", "minItems": count, "maxItems": count })
            }
            Fields::Unit => json!({ "nullable": true }),
        }
    }

    /// Finds the struct or enum called `name`: in the function's file first, then in the
    /// package's other files, in path order. With `module`, a definition inside a module of
    /// that name wins over the others.
    fn find_item(&mut self, name: &str, module: Option<&str>, origin: Origin<'_>) -> Option<Found> {
        let mut files = vec![origin.source_file.to_path_buf()];
        files.extend(self.files_of(origin.package_dir));
        let mut first = None;
        for file in files {
            let file_module = file_module(&file);
            let Some(parsed) = self.parsed(&file) else { continue };
            let mut found = Vec::new();
            find_in(&parsed.items, name, file_module.clone(), &mut found);
            for (item, item_module) in found {
                let candidate = Found {
                    item: item.clone(),
                    module: item_module,
                    file: file.clone(),
                };
                if module.is_none() || candidate.module.as_deref() == module {
                    return Some(candidate);
                }
                first.get_or_insert(candidate);
            }
        }
        first
    }

    fn parsed(&mut self, file: &Path) -> Option<&syn::File> {
        self.files
            .entry(file.to_path_buf())
            .or_insert_with(|| {
                let text = std::fs::read_to_string(file).ok()?;
                syn::parse_file(&text).ok()
            })
            .as_ref()
    }

    fn files_of(&mut self, package_dir: &Path) -> Vec<PathBuf> {
        self.package_files
            .entry(package_dir.to_path_buf())
            .or_insert_with(|| {
                let mut files = Vec::new();
                collect_rust_files(&package_dir.join("src"), &mut files);
                files.sort();
                files
            })
            .clone()
    }
}

fn collect_rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// Collects the structs and enums called `name` among `items`, inline modules included, each
/// with the module that contains it (`module` for the items themselves).
fn find_in<'a>(items: &'a [Item], name: &str, module: Option<String>, found: &mut Vec<(&'a Item, Option<String>)>) {
    for item in items {
        match item {
            Item::Struct(item_struct) if item_struct.ident == name => found.push((item, module.clone())),
            Item::Enum(item_enum) if item_enum.ident == name => found.push((item, module.clone())),
            Item::Mod(inner) => {
                if let Some((_, items)) = &inner.content {
                    find_in(items, name, Some(inner.ident.to_string()), found);
                }
            }
            _ => {}
        }
    }
}

/// Returns the module a file is: its stem, its folder's name for `mod.rs`, and `None` for the
/// crate roots `lib.rs` and `main.rs`.
fn file_module(file: &Path) -> Option<String> {
    let stem = file.file_stem()?.to_string_lossy().into_owned();
    match stem.as_str() {
        "lib" | "main" => None,
        "mod" => file.parent()?.file_name().map(|name| name.to_string_lossy().into_owned()),
        _ => Some(stem),
    }
}

/// Returns whether `items` (inline modules included) implement `trait_name` for a type called
/// `name`.
fn implements(items: &[Item], trait_name: &str, name: &str) -> bool {
    items.iter().any(|item| match item {
        Item::Impl(implementation) => {
            let for_trait = implementation
                .trait_
                .as_ref()
                .is_some_and(|(_, path, _)| path.segments.last().is_some_and(|last| last.ident == trait_name));
            let for_type = matches!(implementation.self_ty.as_ref(), Type::Path(path)
                if path.path.segments.last().is_some_and(|last| last.ident == name));
            for_trait && for_type
        }
        Item::Mod(inner) => inner.content.as_ref().is_some_and(|(_, items)| implements(items, trait_name, name)),
        _ => false,
    })
}

/// Describes an enum of unit variants as a string enumeration, and any other enum as any value.
fn of_enum(item: &syn::ItemEnum) -> Value {
    if item.variants.iter().any(|variant| !matches!(variant.fields, Fields::Unit)) {
        return json!({ "description": format!("the enum `{}`", item.ident) });
    }
    let rename_all = serde_value(&item.attrs, "rename_all");
    let names: Vec<Value> = item
        .variants
        .iter()
        .filter(|variant| !serde_flag(&variant.attrs, "skip"))
        .map(|variant| {
            let name = serde_value(&variant.attrs, "rename")
                .unwrap_or_else(|| rename(&variant.ident.to_string(), rename_all.as_deref()));
            Value::String(name)
        })
        .collect();
    json!({ "type": "string", "enum": names })
}

/// Returns the schema of a primitive or string type, by its last path segment.
pub fn primitive(name: &str) -> Option<Value> {
    let schema = match name {
        "bool" => json!({ "type": "boolean" }),
        "i8" | "i16" | "i32" => json!({ "type": "integer", "format": "int32" }),
        "i64" | "isize" => json!({ "type": "integer", "format": "int64" }),
        "u8" | "u16" => json!({ "type": "integer", "format": "int32", "minimum": 0 }),
        // OpenAPI's formats are signed: a u32 fits int64, and a u64 fits neither.
        "u32" => json!({ "type": "integer", "format": "int64", "minimum": 0 }),
        "u64" | "usize" => json!({ "type": "integer", "minimum": 0 }),
        "i128" => json!({ "type": "integer" }),
        "u128" => json!({ "type": "integer", "minimum": 0 }),
        "f32" => json!({ "type": "number", "format": "float" }),
        "f64" => json!({ "type": "number", "format": "double" }),
        "char" => json!({ "type": "string", "minLength": 1, "maxLength": 1 }),
        "String" | "str" | "PathBuf" | "Path" | "OsString" | "OsStr" => json!({ "type": "string" }),
        "Bytes" => json!({ "type": "string", "format": "binary" }),
        _ => return None,
    };
    Some(schema)
}

fn type_arguments(arguments: &PathArguments) -> Vec<&Type> {
    let PathArguments::AngleBracketed(arguments) = arguments else {
        return Vec::new();
    };
    arguments
        .args
        .iter()
        .filter_map(|argument| match argument {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
        .collect()
}

fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.path.segments.last().is_some_and(|last| last.ident == "Option"))
}

/// Returns the string value of `#[serde(key = "value")]` among `attrs`.
fn serde_value(attrs: &[syn::Attribute], key: &str) -> Option<String> {
    let mut found = None;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(key) {
                if let Ok(value) = meta.value()
                    && let Ok(text) = value.parse::<syn::LitStr>()
                {
                    found = Some(text.value());
                }
            } else if meta.input.peek(syn::Token![=]) {
                let _ = meta.value()?.parse::<syn::Expr>();
            } else if meta.input.peek(syn::token::Paren) {
                let _ = meta.parse_nested_meta(|_| Ok(()));
            }
            Ok(())
        });
    }
    found
}

/// Returns whether `#[serde(flag)]` (or `#[serde(flag = ...)]`) is among `attrs`.
fn serde_flag(attrs: &[syn::Attribute], flag: &str) -> bool {
    let mut found = false;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(flag) {
                found = true;
            }
            if meta.input.peek(syn::Token![=]) {
                let _ = meta.value()?.parse::<syn::Expr>();
            } else if meta.input.peek(syn::token::Paren) {
                let _ = meta.parse_nested_meta(|_| Ok(()));
            }
            Ok(())
        });
    }
    found
}

/// Applies serde's `rename_all` rule to a field (snake_case) or variant (PascalCase) name.
fn rename(name: &str, rule: Option<&str>) -> String {
    let Some(rule) = rule else {
        return name.to_string();
    };
    let words = words(name);
    let capitalised = |word: &String| {
        let mut chars = word.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect::<String>())
            .unwrap_or_default()
    };
    match rule {
        "lowercase" => name.to_lowercase(),
        "UPPERCASE" => name.to_uppercase(),
        "snake_case" => words.join("_"),
        "SCREAMING_SNAKE_CASE" => words.join("_").to_uppercase(),
        "kebab-case" => words.join("-"),
        "SCREAMING-KEBAB-CASE" => words.join("-").to_uppercase(),
        "camelCase" => {
            let mut out = words.first().cloned().unwrap_or_default();
            out.extend(words.iter().skip(1).map(capitalised));
            out
        }
        "PascalCase" => words.iter().map(capitalised).collect(),
        _ => name.to_string(),
    }
}

/// Splits a snake_case or PascalCase name into lower-case words.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for character in name.chars() {
        if character == '_' {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if character.is_uppercase() && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.extend(character.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Renders a type for a description.
pub fn type_text(ty: &Type) -> String {
    ty.to_token_stream().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_rules() {
        assert_eq!(rename("first_name", Some("camelCase")), "firstName");
        assert_eq!(rename("first_name", Some("PascalCase")), "FirstName");
        assert_eq!(rename("first_name", Some("kebab-case")), "first-name");
        assert_eq!(rename("DarkRed", Some("snake_case")), "dark_red");
        assert_eq!(rename("DarkRed", Some("SCREAMING_SNAKE_CASE")), "DARK_RED");
        assert_eq!(rename("DarkRed", Some("lowercase")), "darkred");
        assert_eq!(rename("DarkRed", None), "DarkRed");
    }

    #[test]
    fn structs_and_enums_from_source() {
        let dir = std::env::temp_dir().join(format!("portkey-openapi-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let file = dir.join("src/lib.rs");
        std::fs::write(
            &file,
            r#"
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            pub struct Order { pub order_id: u64, pub note: Option<String>, #[serde(default)] pub tags: Vec<String>,
                #[serde(rename = "kind")] pub order_kind: Kind, #[serde(skip)] pub cache: u8, pub next: Option<Box<Order>> }
            #[serde(rename_all = "lowercase")]
            pub enum Kind { Pickup, Delivery }
            "#,
        )
        .unwrap();
        let mut schemas = Schemas::default();
        let origin = Origin { source_file: &file, package_dir: &dir };
        let ty: Type = syn::parse_str("Vec<Order>").unwrap();
        let schema = schemas.of(&ty, origin);
        assert_eq!(schema, json!({ "type": "array", "items": { "$ref": "#/components/schemas/Order" } }));
        let order = &schemas.components["Order"];
        assert_eq!(order["required"], json!(["orderId", "kind"]));
        assert_eq!(order["properties"]["orderId"], json!({ "type": "integer", "minimum": 0 }));
        assert_eq!(order["properties"]["note"], json!({ "type": "string", "nullable": true }));
        assert!(order["properties"].get("cache").is_none());
        assert_eq!(order["properties"]["next"]["allOf"][0]["$ref"], "#/components/schemas/Order");
        assert_eq!(schemas.components["Kind"], json!({ "type": "string", "enum": ["pickup", "delivery"] }));
        assert!(schemas.is_text_only(&syn::parse_str("Order").unwrap(), origin), "Order derives only Deserialize");
        let unknown: Type = syn::parse_str("elsewhere::Thing").unwrap();
        assert!(schemas.of(&unknown, origin)["description"].as_str().unwrap().contains("Thing"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn same_names_flatten_and_display_only() {
        let dir = std::env::temp_dir().join(format!("portkey-openapi-names-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let file = dir.join("src/lib.rs");
        std::fs::write(
            &file,
            r#"
            mod first { pub struct Item { pub weight: f64 } }
            mod second { #[derive(Serialize)] pub struct Item { pub label: String } }
            #[derive(Serialize)] pub struct Outer { pub id: u32, #[serde(flatten)] pub meta: Meta }
            #[derive(Serialize)] pub struct Meta { pub source: String }
            pub struct Greeting { pub name: String }
            impl serde::Serialize for Manual { }
            pub struct Manual { pub x: u8 }
            "#,
        )
        .unwrap();
        let mut schemas = Schemas::default();
        let origin = Origin { source_file: &file, package_dir: &dir };
        let second = schemas.of(&syn::parse_str("second::Item").unwrap(), origin);
        assert_eq!(second["$ref"], "#/components/schemas/Item");
        assert_eq!(schemas.components["Item"]["required"], json!(["label"]));
        let first = schemas.of(&syn::parse_str("first::Item").unwrap(), origin);
        assert_eq!(first["$ref"], "#/components/schemas/first.Item");
        assert_eq!(schemas.components["first.Item"]["required"], json!(["weight"]));
        schemas.of(&syn::parse_str("Outer").unwrap(), origin);
        let outer = &schemas.components["Outer"];
        assert_eq!(outer["allOf"][1]["$ref"], "#/components/schemas/Meta", "{outer}");
        assert!(outer["allOf"][0]["properties"].get("meta").is_none(), "{outer}");
        assert!(schemas.is_text_only(&syn::parse_str("Greeting").unwrap(), origin));
        assert!(!schemas.is_text_only(&syn::parse_str("Manual").unwrap(), origin));
        assert!(!schemas.is_text_only(&syn::parse_str("Outer").unwrap(), origin));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
