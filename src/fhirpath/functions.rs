//! The function library: FHIRPath N1's functions
//! (<https://hl7.org/fhirpath/N1/#functions>) and FHIR's additions
//! (<https://hl7.org/fhir/R4/fhirpath.html#functions>).
//!
//! [`Func::resolve`] checks names and argument counts when an expression is
//! compiled; [`Evaluator::call`] runs them.

use std::borrow::Cow;

use serde_json::Value;

use super::compile::{Op, TypeName};
use super::eval::{contains_item, integer_arg, is_type, navigate, to_boolean, union, Collection, Evaluator, Scope};
use super::value::{Item, Node};
use super::{boundary, convert, ops, strings, EvalError};

macro_rules! functions {
    ($($variant:ident = $name:literal ($min:literal, $max:literal),)*) => {
        /// A function of the library, resolved at compile time.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum Func { $($variant,)* }

        impl Func {
            /// The function called `name` with `count` arguments, or why not.
            pub(super) fn resolve(name: &str, count: usize) -> Result<Func, String> {
                let (func, min, max) = match name {
                    $($name => (Func::$variant, $min, $max),)*
                    _ => return Err(format!("unknown function '{name}'")),
                };
                if count < min || count > max {
                    let expected = if min == max { format!("{min}") } else { format!("{min} to {max}") };
                    return Err(format!("{name}() takes {expected} argument(s), found {count}"));
                }
                Ok(func)
            }

            pub(super) fn name(self) -> &'static str {
                match self { $(Func::$variant => $name,)* }
            }
        }
    };
}

functions! {
    Empty = "empty"(0, 0),
    Exists = "exists"(0, 1),
    All = "all"(1, 1),
    AllTrue = "allTrue"(0, 0),
    AnyTrue = "anyTrue"(0, 0),
    AllFalse = "allFalse"(0, 0),
    AnyFalse = "anyFalse"(0, 0),
    SubsetOf = "subsetOf"(1, 1),
    SupersetOf = "supersetOf"(1, 1),
    Count = "count"(0, 0),
    Distinct = "distinct"(0, 0),
    IsDistinct = "isDistinct"(0, 0),
    Where = "where"(1, 1),
    Select = "select"(1, 1),
    Repeat = "repeat"(1, 1),
    OfType = "ofType"(1, 1),
    Single = "single"(0, 0),
    First = "first"(0, 0),
    Last = "last"(0, 0),
    Tail = "tail"(0, 0),
    Skip = "skip"(1, 1),
    Take = "take"(1, 1),
    Intersect = "intersect"(1, 1),
    Exclude = "exclude"(1, 1),
    Union = "union"(1, 1),
    Combine = "combine"(1, 1),
    Iif = "iif"(2, 3),
    ToBoolean = "toBoolean"(0, 0),
    ConvertsToBoolean = "convertsToBoolean"(0, 0),
    ToInteger = "toInteger"(0, 0),
    ConvertsToInteger = "convertsToInteger"(0, 0),
    ToDecimal = "toDecimal"(0, 0),
    ConvertsToDecimal = "convertsToDecimal"(0, 0),
    ToDate = "toDate"(0, 0),
    ConvertsToDate = "convertsToDate"(0, 0),
    ToDateTime = "toDateTime"(0, 0),
    ConvertsToDateTime = "convertsToDateTime"(0, 0),
    ToTime = "toTime"(0, 0),
    ConvertsToTime = "convertsToTime"(0, 0),
    ToQuantity = "toQuantity"(0, 1),
    ConvertsToQuantity = "convertsToQuantity"(0, 1),
    ToString = "toString"(0, 0),
    ConvertsToString = "convertsToString"(0, 0),
    IndexOf = "indexOf"(1, 1),
    Substring = "substring"(1, 2),
    StartsWith = "startsWith"(1, 1),
    EndsWith = "endsWith"(1, 1),
    ContainsText = "contains"(1, 1),
    Upper = "upper"(0, 0),
    Lower = "lower"(0, 0),
    Replace = "replace"(2, 2),
    Matches = "matches"(1, 1),
    MatchesFull = "matchesFull"(1, 1),
    ReplaceMatches = "replaceMatches"(2, 2),
    Length = "length"(0, 0),
    ToChars = "toChars"(0, 0),
    Trim = "trim"(0, 0),
    Split = "split"(1, 1),
    Join = "join"(0, 1),
    Encode = "encode"(1, 1),
    Decode = "decode"(1, 1),
    Escape = "escape"(1, 1),
    Unescape = "unescape"(1, 1),
    Abs = "abs"(0, 0),
    Ceiling = "ceiling"(0, 0),
    Exp = "exp"(0, 0),
    Floor = "floor"(0, 0),
    Ln = "ln"(0, 0),
    Log = "log"(1, 1),
    Power = "power"(1, 1),
    Round = "round"(0, 1),
    Sqrt = "sqrt"(0, 0),
    Truncate = "truncate"(0, 0),
    Children = "children"(0, 0),
    Descendants = "descendants"(0, 0),
    Trace = "trace"(1, 2),
    Now = "now"(0, 0),
    TimeOfDay = "timeOfDay"(0, 0),
    Today = "today"(0, 0),
    Aggregate = "aggregate"(1, 2),
    Not = "not"(0, 0),
    Is = "is"(1, 1),
    As = "as"(1, 1),
    Type = "type"(0, 0),
    Extension = "extension"(1, 1),
    HasValue = "hasValue"(0, 0),
    GetValue = "getValue"(0, 0),
    Resolve = "resolve"(0, 0),
    MemberOf = "memberOf"(1, 1),
    Subsumes = "subsumes"(1, 1),
    SubsumedBy = "subsumedBy"(1, 1),
    ConformsTo = "conformsTo"(1, 1),
    CheckModifiers = "checkModifiers"(1, 1),
    HtmlChecks = "htmlChecks"(0, 0),
    Slice = "slice"(2, 2),
    Sort = "sort"(0, 10),
    Precision = "precision"(0, 0),
    LowBoundary = "lowBoundary"(0, 1),
    HighBoundary = "highBoundary"(0, 1),
    Comparable = "comparable"(1, 1),
}

impl Func {
    /// `is()`, `as()` and `ofType()` take a type specifier, not an expression.
    pub(super) fn takes_type_argument(self) -> bool {
        matches!(self, Func::Is | Func::As | Func::OfType)
    }
}

impl<'e, 'a> Evaluator<'e, 'a> {
    /// Runs `func` on `input`. Plain arguments are evaluated against `$this`
    /// of the enclosing scope; lambda arguments (`where`, `select`…) per item.
    pub(super) fn call(
        &mut self,
        func: Func,
        input: &[Item<'a>],
        args: &[Op],
        type_arg: Option<&TypeName>,
        scope: Scope<'_, 'a>,
    ) -> Result<Collection<'a>, EvalError> {
        use Func::*;
        let boolean = |b: bool| Ok(vec![Item::Boolean(b)]);
        match func {
            Empty => boolean(input.is_empty()),
            Exists => match args.first() {
                None => boolean(!input.is_empty()),
                Some(criteria) => boolean(!self.filter(input, criteria)?.is_empty()),
            },
            All => {
                for (index, item) in input.iter().enumerate() {
                    if to_boolean(&self.per_item(&args[0], item, index, None)?)? != Some(true) {
                        return boolean(false);
                    }
                }
                boolean(true)
            }
            AllTrue => boolean(self.booleans(input, func)?.iter().all(|b| *b)),
            AnyTrue => boolean(self.booleans(input, func)?.iter().any(|b| *b)),
            AllFalse => boolean(self.booleans(input, func)?.iter().all(|b| !*b)),
            AnyFalse => boolean(self.booleans(input, func)?.iter().any(|b| !*b)),
            SubsetOf => {
                let other = self.arg(&args[0], scope)?;
                boolean(input.iter().all(|item| contains_item(&other, item)))
            }
            SupersetOf => {
                let other = self.arg(&args[0], scope)?;
                boolean(other.iter().all(|item| contains_item(input, item)))
            }
            Count => Ok(vec![Item::Integer(i64::try_from(input.len()).unwrap_or(i64::MAX))]),
            Distinct => Ok(union(input.to_vec(), Vec::new())),
            IsDistinct => boolean(union(input.to_vec(), Vec::new()).len() == input.len()),
            Where => self.filter(input, &args[0]),
            Select => {
                let mut out = Vec::new();
                for (index, item) in input.iter().enumerate() {
                    out.extend(self.per_item(&args[0], item, index, None)?);
                }
                Ok(out)
            }
            Repeat => self.repeat(input, &args[0]),
            OfType => {
                let type_name = type_arg.ok_or_else(|| EvalError::new("ofType() needs a type"))?;
                Ok(input
                    .iter()
                    .filter(|item| is_type(item, type_name, true))
                    .cloned()
                    .collect())
            }
            Is | As => {
                let type_name = type_arg.ok_or_else(|| EvalError::new("is()/as() need a type"))?;
                match input {
                    [] => Ok(Vec::new()),
                    [item] if func == Is => boolean(is_type(item, type_name, false)),
                    [item] => Ok(is_type(item, type_name, true)
                        .then(|| item.clone())
                        .into_iter()
                        .collect()),
                    _ => Err(EvalError::new(format!("{}() needs a single item", func.name()))),
                }
            }
            Single => match input {
                [] => Ok(Vec::new()),
                [item] => Ok(vec![item.clone()]),
                _ => Err(EvalError::new("single() on a collection of more than one item")),
            },
            First => Ok(input.first().cloned().into_iter().collect()),
            Last => Ok(input.last().cloned().into_iter().collect()),
            Tail => Ok(input.iter().skip(1).cloned().collect()),
            Skip | Take => {
                let n = integer_arg(&self.arg(&args[0], scope)?, func.name())?;
                let n = usize::try_from(n.unwrap_or(0).max(0)).unwrap_or(usize::MAX);
                Ok(if func == Skip {
                    input.iter().skip(n).cloned().collect()
                } else {
                    input.iter().take(n).cloned().collect()
                })
            }
            Intersect => {
                let other = self.arg(&args[0], scope)?;
                let common = input
                    .iter()
                    .filter(|item| contains_item(&other, item))
                    .cloned()
                    .collect();
                Ok(union(common, Vec::new()))
            }
            Exclude => {
                let other = self.arg(&args[0], scope)?;
                Ok(input
                    .iter()
                    .filter(|item| !contains_item(&other, item))
                    .cloned()
                    .collect())
            }
            Union => Ok(union(input.to_vec(), self.arg(&args[0], scope)?)),
            Combine => {
                let mut out = input.to_vec();
                out.extend(self.arg(&args[0], scope)?);
                Ok(out)
            }
            Iif => self.iif(args, scope),
            Not => Ok(to_boolean(input)?.map(|b| Item::Boolean(!b)).into_iter().collect()),
            Type => Ok(input.iter().map(|item| Item::Type(item.type_info())).collect()),
            Children => Ok(children(input)),
            Descendants => self.descendants(input),
            Trace => {
                let name = self.string_arg(&args[0], scope)?.unwrap_or_default();
                let shown = match args.get(1) {
                    Some(projection) => {
                        let mut out = Vec::new();
                        for (index, item) in input.iter().enumerate() {
                            out.extend(self.per_item(projection, item, index, None)?);
                        }
                        out
                    }
                    None => input.to_vec(),
                };
                self.env.trace(&name, &shown);
                Ok(input.to_vec())
            }
            Now => Ok(self.env.now().map(Item::DateTime).into_iter().collect()),
            Today => Ok(self.env.now().map(|now| Item::Date(now.date())).into_iter().collect()),
            TimeOfDay => Ok(self
                .env
                .now()
                .and_then(|now| now.time())
                .map(Item::Time)
                .into_iter()
                .collect()),
            Aggregate => self.aggregate(input, args, scope),
            Sort => self.sort(input, args),
            Join => {
                let separator = match args.first() {
                    Some(arg) => self.string_arg(arg, scope)?,
                    None => None,
                };
                strings::join(input, separator.as_deref())
            }
            Extension => {
                let url = self.string_arg(&args[0], scope)?;
                Ok(extensions(input, url.as_deref()))
            }
            HasValue => boolean(matches!(input, [item] if has_value(item))),
            GetValue => Ok(match input {
                [item] if has_value(item) => item.system().into_iter().collect(),
                _ => Vec::new(),
            }),
            Resolve => Ok(self.resolve(input)),
            MemberOf | Subsumes | SubsumedBy | ConformsTo | Slice => self.service(func, input, args, scope),
            CheckModifiers => {
                let allowed = self.arg(&args[0], scope)?;
                check_modifiers(input, &allowed)
            }
            HtmlChecks => boolean(input.iter().all(|item| {
                match item {
                    Item::Node(node) => node
                        .json()
                        .and_then(Value::as_str)
                        .is_some_and(|div| ipe_xml::check_narrative(div).is_ok()),
                    _ => false,
                }
            })),
            _ => self.scalar(func, input, args, scope),
        }
    }

    /// Functions on one item: conversions, strings and math.
    fn scalar(
        &mut self,
        func: Func,
        input: &[Item<'a>],
        args: &[Op],
        scope: Scope<'_, 'a>,
    ) -> Result<Collection<'a>, EvalError> {
        let item = match input {
            [] => return Ok(Vec::new()),
            [item] => item,
            _ => {
                return Err(EvalError::new(format!(
                    "{}() needs a single item, found a collection of {}",
                    func.name(),
                    input.len()
                )))
            }
        };
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            values.push(self.arg(arg, scope)?);
        }
        if let Some(result) = boundary::call(func, item, &values)? {
            return Ok(result);
        }
        if let Some(result) = convert::call(func, item, &values)? {
            return Ok(result);
        }
        if let Some(result) = strings::call(func, item, &values)? {
            return Ok(result);
        }
        super::math::call(func, item, &values)
    }

    /// A plain argument, evaluated against `$this` of the enclosing scope.
    fn arg(&mut self, arg: &Op, scope: Scope<'_, 'a>) -> Result<Collection<'a>, EvalError> {
        self.eval(arg, scope.this, scope)
    }

    fn string_arg(&mut self, arg: &Op, scope: Scope<'_, 'a>) -> Result<Option<String>, EvalError> {
        match self.arg(arg, scope)?.as_slice() {
            [] => Ok(None),
            [item] => item
                .as_str()
                .map(|s| Some(s.into_owned()))
                .ok_or_else(|| EvalError::new("expected a string argument")),
            _ => Err(EvalError::new("expected a single string argument")),
        }
    }

    /// A lambda argument evaluated for one item (`$this`, `$index`, `$total`).
    fn per_item(
        &mut self,
        lambda: &Op,
        item: &Item<'a>,
        index: usize,
        total: Option<&[Item<'a>]>,
    ) -> Result<Collection<'a>, EvalError> {
        let this = std::slice::from_ref(item);
        let scope = Scope {
            this,
            index: Some(index),
            total,
        };
        self.eval(lambda, this, scope)
    }

    fn filter(&mut self, input: &[Item<'a>], criteria: &Op) -> Result<Collection<'a>, EvalError> {
        let mut out = Vec::new();
        for (index, item) in input.iter().enumerate() {
            if to_boolean(&self.per_item(criteria, item, index, None)?)? == Some(true) {
                out.push(item.clone());
            }
        }
        Ok(out)
    }

    fn booleans(&self, input: &[Item<'a>], func: Func) -> Result<Vec<bool>, EvalError> {
        input
            .iter()
            .map(|item| match item.system() {
                Some(Item::Boolean(b)) => Ok(b),
                _ => Err(EvalError::new(format!("{}() needs booleans", func.name()))),
            })
            .collect()
    }

    /// `repeat(projection)`: the projection applied to the input, then to
    /// its results, until nothing new appears.
    fn repeat(&mut self, input: &[Item<'a>], projection: &Op) -> Result<Collection<'a>, EvalError> {
        let mut out: Collection<'a> = Vec::new();
        let mut current = input.to_vec();
        // Each round adds at least one new item, so the data bounds the loop;
        // the cap guards against projections that invent values forever.
        for _ in 0..10_000 {
            let mut next = Vec::new();
            for (index, item) in current.iter().enumerate() {
                for produced in self.per_item(projection, item, index, None)? {
                    if !contains_item(&out, &produced) {
                        out.push(produced.clone());
                        next.push(produced);
                    }
                }
            }
            if next.is_empty() {
                return Ok(out);
            }
            current = next;
        }
        Err(EvalError::new("repeat() did not converge"))
    }

    /// `x.iif(…)`: the arguments see the input item as `$this`.
    pub(super) fn iif_on(
        &mut self,
        input: &[Item<'a>],
        args: &[Op],
        scope: Scope<'_, 'a>,
    ) -> Result<Collection<'a>, EvalError> {
        let scope = match input {
            [] => scope,
            [_] => Scope {
                this: input,
                index: None,
                total: None,
            },
            _ => return Err(EvalError::new("iif() needs a single input item")),
        };
        self.iif(args, scope)
    }

    /// `iif(criterion, then[, else])`: only the chosen branch is evaluated.
    fn iif(&mut self, args: &[Op], scope: Scope<'_, 'a>) -> Result<Collection<'a>, EvalError> {
        let criterion = self.eval(&args[0], scope.this, scope)?;
        let condition = match criterion.as_slice() {
            [] => None,
            [item] => match item.system() {
                Some(Item::Boolean(b)) => Some(b),
                _ => return Err(EvalError::new("iif() criterion must be a boolean")),
            },
            _ => return Err(EvalError::new("iif() criterion must be a single boolean")),
        };
        match (condition, args.get(2)) {
            (Some(true), _) => self.eval(&args[1], scope.this, scope),
            (_, Some(otherwise)) => self.eval(otherwise, scope.this, scope),
            (_, None) => Ok(Vec::new()),
        }
    }

    fn aggregate(
        &mut self,
        input: &[Item<'a>],
        args: &[Op],
        scope: Scope<'_, 'a>,
    ) -> Result<Collection<'a>, EvalError> {
        let mut total = match args.get(1) {
            Some(init) => self.arg(init, scope)?,
            None => Vec::new(),
        };
        for (index, item) in input.iter().enumerate() {
            total = self.per_item(&args[0], item, index, Some(&total))?;
        }
        Ok(total)
    }

    /// `sort(keys…)` (FHIRPath 2.1): stable, by each key in turn; a key
    /// written `-key` sorts descending. Empty keys sort first.
    fn sort(&mut self, input: &[Item<'a>], keys: &[Op]) -> Result<Collection<'a>, EvalError> {
        let mut keyed = Vec::with_capacity(input.len());
        for (index, item) in input.iter().enumerate() {
            let mut values = Vec::with_capacity(keys.len().max(1));
            if keys.is_empty() {
                values.push((Some(item.clone()), false));
            }
            for key in keys {
                let (key, descending) = match key {
                    Op::Negate(inner) => (inner.as_ref(), true),
                    other => (other, false),
                };
                let value = self.per_item(key, item, index, None)?;
                values.push((value.into_iter().next(), descending));
            }
            keyed.push((values, item.clone()));
        }
        keyed.sort_by(|(a, _), (b, _)| {
            for ((x, descending), (y, _)) in a.iter().zip(b) {
                let ordering = match (x, y) {
                    (None, None) => std::cmp::Ordering::Equal,
                    // Empty keys come first whichever the direction.
                    (None, Some(_)) => return std::cmp::Ordering::Less,
                    (Some(_), None) => return std::cmp::Ordering::Greater,
                    (Some(x), Some(y)) => ops::compare(x, y).ok().flatten().unwrap_or(std::cmp::Ordering::Equal),
                };
                let ordering = if *descending { ordering.reverse() } else { ordering };
                if ordering.is_ne() {
                    return ordering;
                }
            }
            std::cmp::Ordering::Equal
        });
        Ok(keyed.into_iter().map(|(_, item)| item).collect())
    }

    fn descendants(&mut self, input: &[Item<'a>]) -> Result<Collection<'a>, EvalError> {
        let mut out = Vec::new();
        let mut current = children(input);
        let mut rounds = 0;
        while !current.is_empty() {
            rounds += 1;
            if rounds > 1_000 {
                return Err(EvalError::new("descendants() nests too deeply"));
            }
            let next = children(&current);
            out.extend(current);
            current = next;
        }
        Ok(out)
    }

    /// `resolve()`: references to contained resources (`#id`), to entries
    /// of the Bundle being evaluated (by fullUrl or `Type/id`), then the
    /// caller's resolver. A `Type/id` reference found nowhere resolves to a
    /// node of that type with no content, so `resolve() is Patient` — the
    /// form R4's SearchParameters use to pick reference targets — works
    /// without fetching anything.
    fn resolve(&self, input: &[Item<'a>]) -> Collection<'a> {
        let mut out = Vec::new();
        for item in input {
            let reference = match item {
                Item::Node(node) if !node.is_primitive() => {
                    node.object().and_then(|o| o.get("reference")).and_then(Value::as_str)
                }
                other => other.as_str().and_then(|s| match s {
                    Cow::Borrowed(s) => Some(s),
                    Cow::Owned(_) => None,
                }),
            };
            let Some(reference) = reference else {
                continue;
            };
            if let Some(found) = self.resolve_reference(reference) {
                out.push(Item::Node(Node::resource(found)));
            } else if let Some(stub) = Node::reference_stub(reference) {
                out.push(Item::Node(stub));
            }
        }
        out
    }

    fn resolve_reference(&self, reference: &str) -> Option<&'a Value> {
        let roots =
            [self.env.resource, self.env.root_resource]
                .into_iter()
                .flatten()
                .chain(self.context.iter().filter_map(|item| match item {
                    Item::Node(node) => node.json(),
                    _ => None,
                }));
        for root in roots {
            if let Some(found) = find_local(root, reference) {
                return Some(found);
            }
        }
        self.env.services.and_then(|services| services.resolve(reference))
    }

    /// Functions answered by the caller's services (terminology, profiles).
    fn service(
        &mut self,
        func: Func,
        input: &[Item<'a>],
        args: &[Op],
        scope: Scope<'_, 'a>,
    ) -> Result<Collection<'a>, EvalError> {
        if func == Func::ConformsTo {
            let url = self.string_arg(&args[0], scope)?.unwrap_or_default();
            if let Some(type_name) = url.strip_prefix(BASE_DEFINITION) {
                // A base type's definition: conformance is being of that type.
                if crate::model::definitions::r4().get(type_name).is_some() {
                    let type_name = TypeName {
                        namespace: Some(super::compile::Namespace::Fhir),
                        name: type_name.to_owned(),
                    };
                    return Ok(input
                        .iter()
                        .map(|item| Item::Boolean(is_type(item, &type_name, false)))
                        .collect());
                }
            }
        }
        let Some(services) = self.env.services else {
            return Err(EvalError::new(format!(
                "{}() needs a terminology or profile service, and none is configured",
                func.name()
            )));
        };
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            values.push(self.string_arg(arg, scope)?.unwrap_or_default());
        }
        let mut out = Vec::new();
        for item in input {
            let answer = match func {
                Func::MemberOf => services.member_of(item, &values[0]),
                Func::Subsumes => services.subsumes(item, &values[0], false),
                Func::SubsumedBy => services.subsumes(item, &values[0], true),
                Func::ConformsTo => services.conforms_to(item, &values[0]),
                _ => services.slice_matches(item, &values[0], &values[1]),
            }
            .map_err(EvalError::new)?;
            match (func, answer) {
                (Func::Slice, Some(true)) => out.push(item.clone()),
                (Func::Slice, _) => {}
                (_, Some(b)) => out.push(Item::Boolean(b)),
                (_, None) => {}
            }
        }
        Ok(out)
    }
}

/// Where the base R4 StructureDefinitions live.
const BASE_DEFINITION: &str = "http://hl7.org/fhir/StructureDefinition/";

/// The direct children of each item, in document order.
fn children<'a>(input: &[Item<'a>]) -> Collection<'a> {
    let mut out = Vec::new();
    for item in input {
        let Item::Node(node) = item else {
            continue;
        };
        let Some(object) = node.object() else {
            continue;
        };
        for key in object.keys() {
            if key.starts_with('_') || key == "resourceType" {
                continue;
            }
            let member = super::compile::Member::child(key);
            // Keys the model does not know are skipped rather than failing the walk.
            let _ = navigate(item, &member, false, &mut out);
        }
    }
    out
}

/// Finds a resource by reference inside `root`: contained (`#id`) or a
/// Bundle entry (fullUrl or `Type/id`).
fn find_local<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    if let Some(id) = reference.strip_prefix('#') {
        return root
            .get("contained")?
            .as_array()?
            .iter()
            .find(|c| c.get("id").and_then(Value::as_str) == Some(id));
    }
    let entries = root.get("entry")?.as_array()?;
    entries.iter().find_map(|entry| {
        let resource = entry.get("resource")?;
        let full_url = entry.get("fullUrl").and_then(Value::as_str);
        let typed = match (
            resource.get("resourceType").and_then(Value::as_str),
            resource.get("id").and_then(Value::as_str),
        ) {
            (Some(t), Some(id)) => reference == format!("{t}/{id}") || reference.ends_with(&format!("/{t}/{id}")),
            _ => false,
        };
        (full_url == Some(reference) || typed).then_some(resource)
    })
}

/// `extension(url)`: the extensions of each item with that URL.
fn extensions<'a>(input: &[Item<'a>], url: Option<&str>) -> Collection<'a> {
    let Some(url) = url else {
        return Vec::new();
    };
    let mut all = Vec::new();
    let member = super::compile::Member::child("extension");
    for item in input {
        let _ = navigate(item, &member, false, &mut all);
    }
    all.into_iter()
        .filter(|ext| match ext {
            Item::Node(node) => node.object().and_then(|o| o.get("url")).and_then(Value::as_str) == Some(url),
            _ => false,
        })
        .collect()
}

fn has_value(item: &Item) -> bool {
    match item {
        Item::Node(node) => node.is_primitive() && node.json().is_some(),
        _ => true,
    }
}

/// `checkModifiers(urls)`: the input, if every modifier extension on it is one of `urls`.
fn check_modifiers<'a>(input: &[Item<'a>], allowed: &[Item<'a>]) -> Result<Collection<'a>, EvalError> {
    let allowed: Vec<Cow<str>> = allowed.iter().filter_map(Item::as_str).collect();
    for item in input {
        let Item::Node(node) = item else {
            continue;
        };
        let Some(modifiers) = node
            .object()
            .and_then(|o| o.get("modifierExtension"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for ext in modifiers {
            let url = ext.get("url").and_then(Value::as_str).unwrap_or("");
            if !allowed.iter().any(|a| a == url) {
                return Err(EvalError::new(format!("unknown modifier extension '{url}'")));
            }
        }
    }
    Ok(input.to_vec())
}
