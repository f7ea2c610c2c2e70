//! Building the syntax tree from pest's parse of one piece of the source.
//!
//! The grammar accepts a little more than the language so that some mistakes get a precise
//! message here instead of a generic "expected ..." from pest: clauses out of order or
//! repeated (in rules, claims and a test request's run clauses), chained comparisons, bad
//! escapes, integers and durations that do not fit in 64 bits.

use pest::iterators::Pair;

use super::Rule;
use super::docs::DocIndex;
use super::errors::shorten;
use crate::ast::{self, *};
use crate::lexer::Tok;

type P<'i> = Pair<'i, Rule>;
pub(crate) type BuildResult<T> = Result<T, ParseError>;

/// The deepest expression tree the builder produces. Brackets and `not` are already limited
/// before parsing; this also bounds long `and`/`or` chains, which become left-nested trees, so
/// that code walking the tree recursively cannot overflow the stack.
pub(crate) const MAX_EXPR_DEPTH: usize = 256;

/// Builds nodes from the pairs of one piece that starts at byte `base` of the source.
pub(crate) struct Builder<'a> {
    pub base: usize,
    pub docs: &'a DocIndex,
    /// The tokens of the piece, to trim spans (see [`Builder::span`]).
    pub toks: &'a [Tok],
}

fn error(message: impl Into<String>, span: Span) -> ParseError {
    error_of(ParseErrorKind::Syntax, message, span)
}

fn error_of(kind: ParseErrorKind, message: impl Into<String>, span: Span) -> ParseError {
    ParseError { message: message.into(), span, expected: Vec::new(), kind }
}

/// A tree that does not have the shape the grammar promises: a bug, reported rather than
/// panicking.
fn malformed(span: Span) -> ParseError {
    error_of(
        ParseErrorKind::Internal,
        "internal error: unexpected syntax tree (please report this)",
        span,
    )
}

fn required<T>(node: Option<T>, span: Span) -> BuildResult<T> {
    node.ok_or_else(|| malformed(span))
}

/// The children of a pair, without keywords and punctuation.
fn children(pair: P<'_>) -> impl Iterator<Item = P<'_>> {
    pair.into_inner().filter(|p| !is_token(p.as_rule()))
}

fn is_token(of: Rule) -> bool {
    use Rule::*;
    matches!(
        of,
        lparen
            | rparen
            | lbracket
            | rbracket
            | lbrace
            | rbrace
            | comma
            | colon
            | equals
            | pipe
            | list_open
            | pattern_open
            | EOI
    )
}

impl Builder<'_> {
    /// The span of a pair, ending at its last token. (pest's own span also covers the
    /// whitespace and comments it skipped before an optional part that did not match.)
    pub fn span(&self, pair: &P<'_>) -> Span {
        let span = pair.as_span();
        let (start, end) = (self.base + span.start(), self.base + span.end());
        let last = self.toks.partition_point(|t| t.end <= end);
        let end = match last.checked_sub(1).and_then(|i| self.toks.get(i)).map(|t| t.end) {
            Some(token_end) if token_end > start => token_end,
            _ => end,
        };
        Span::new(start, end)
    }

    pub fn ident(&self, pair: &P<'_>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(pair) }
    }

    pub fn idents(&self, pair: P<'_>) -> Vec<Ident> {
        self.all(pair, Rule::ident).map(|p| self.ident(&p)).collect()
    }

    /// The children of `pair` produced by the grammar rule `of`.
    fn all<'i>(&self, pair: P<'i>, of: Rule) -> impl Iterator<Item = P<'i>> + use<'i> {
        pair.into_inner().filter(move |p| p.as_rule() == of)
    }

    fn doc(&self, span: Span) -> Option<Doc> {
        self.docs.get(span.start)
    }

    /// The only significant child of `pair`.
    fn single<'i>(&self, pair: P<'i>) -> BuildResult<P<'i>> {
        let span = self.span(&pair);
        required(children(pair).next(), span)
    }

    // ---- declarations -----------------------------------------------------------------------

    pub fn item(&self, pair: P<'_>) -> BuildResult<Item> {
        let inner = self.single(pair)?;
        Ok(match inner.as_rule() {
            Rule::role_decl => Item::Role(self.role(inner)?),
            Rule::attribute_decl => Item::Attribute(self.value_decl(inner)?),
            Rule::context_decl => Item::Context(self.value_decl(inner)?),
            Rule::tool_decl => Item::Tool(self.tool(inner)?),
            Rule::evidence_decl => Item::Evidence(self.evidence(inner)?),
            Rule::workflow_decl => Item::Workflow(self.workflow(inner)?),
            Rule::fixture_decl => Item::Fixture(self.fixture(inner)?),
            Rule::test_decl => Item::Test(self.test(inner)?),
            Rule::assert_decl => Item::Assert(self.assert(inner)?),
            Rule::rule => Item::Rule(self.rule(inner)?),
            _ => return Err(malformed(self.span(&inner))),
        })
    }

    fn role(&self, pair: P<'_>) -> BuildResult<RoleDecl> {
        let span = self.span(&pair);
        let (mut name, mut extends, mut body) = (None, Vec::new(), None);
        for p in children(pair) {
            match p.as_rule() {
                Rule::decl_name => name = Some(self.ident(&p)),
                Rule::extends => extends = self.idents(p),
                Rule::role_body => {
                    let entitlements = self.all(p, Rule::entitlement).map(|e| self.entitlement(e));
                    body = Some(entitlements.collect::<Result<_, _>>()?);
                }
                _ => {}
            }
        }
        Ok(RoleDecl { doc: self.doc(span), name: required(name, span)?, extends, body, span })
    }

    pub fn entitlement(&self, pair: P<'_>) -> BuildResult<Entitlement> {
        let span = self.span(&pair);
        let mut target = None;
        let mut clauses = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::target => target = Some(self.target(p)?),
                Rule::when_clause | Rule::unless_clause => clauses.push(p),
                _ => {}
            }
        }
        let clauses = self.clauses(clauses)?;
        Ok(Entitlement {
            doc: self.doc(span),
            target: required(target, span)?,
            when: clauses.when,
            unless: clauses.unless,
            span,
        })
    }

    fn value_decl(&self, pair: P<'_>) -> BuildResult<ValueDecl> {
        let span = self.span(&pair);
        let (mut name, mut ty) = (None, None);
        for p in children(pair) {
            match p.as_rule() {
                Rule::decl_name => name = Some(self.ident(&p)),
                Rule::type_expr => ty = Some(self.type_expr(p)?),
                _ => {}
            }
        }
        Ok(ValueDecl {
            doc: self.doc(span),
            name: required(name, span)?,
            ty: required(ty, span)?,
            span,
        })
    }

    fn type_expr(&self, pair: P<'_>) -> BuildResult<TypeExpr> {
        let span = self.span(&pair);
        let inner = self.single(pair)?;
        let kind = match inner.as_rule() {
            Rule::enum_type => TypeKind::Enum(
                self.all(inner, Rule::string).map(|s| self.string(&s)).collect::<Result<_, _>>()?,
            ),
            Rule::list_type => {
                let element = self.single(inner)?;
                if element.as_str() != "string" {
                    return Err(error(
                        format!(
                            "lists of `{}` are not supported: the only list type is `[string]`",
                            shorten(element.as_str())
                        ),
                        span,
                    ));
                }
                TypeKind::StringList
            }
            Rule::type_name => match inner.as_str() {
                "string" => TypeKind::String,
                "int" => TypeKind::Int,
                "bool" => TypeKind::Bool,
                "duration" => TypeKind::Duration,
                "command" => TypeKind::Command,
                "path" => TypeKind::Path,
                _ => TypeKind::Unknown(self.ident(&inner)),
            },
            _ => return Err(malformed(span)),
        };
        Ok(TypeExpr { kind, span })
    }

    fn tool(&self, pair: P<'_>) -> BuildResult<ToolDecl> {
        let span = self.span(&pair);
        let (mut name, mut params, mut tags) = (None, None, Vec::new());
        for p in children(pair) {
            match p.as_rule() {
                Rule::tool_decl_name => name = Some(self.tool_name(&p)),
                Rule::params => params = Some(self.params(p)?),
                Rule::tag_list => tags = self.idents(p),
                _ => {}
            }
        }
        Ok(ToolDecl { doc: self.doc(span), name: required(name, span)?, params, tags, span })
    }

    fn tool_name(&self, pair: &P<'_>) -> ToolName {
        ToolName { text: pair.as_str().to_string(), span: self.span(pair) }
    }

    fn params(&self, pair: P<'_>) -> BuildResult<Vec<Param>> {
        self.all(pair, Rule::param).map(|p| self.param(p)).collect()
    }

    fn param(&self, pair: P<'_>) -> BuildResult<Param> {
        let span = self.span(&pair);
        let (mut name, mut ty) = (None, None);
        for p in children(pair) {
            match p.as_rule() {
                Rule::decl_name => name = Some(self.ident(&p)),
                Rule::type_expr => ty = Some(self.type_expr(p)?),
                _ => {}
            }
        }
        Ok(Param { name: required(name, span)?, ty: required(ty, span)?, span })
    }

    fn evidence(&self, pair: P<'_>) -> BuildResult<EvidenceDecl> {
        let span = self.span(&pair);
        let (mut name, mut fields, mut by, mut bound) = (None, None, None, None);
        for p in children(pair) {
            match p.as_rule() {
                Rule::decl_name => name = Some(self.ident(&p)),
                Rule::params => fields = Some(self.params(p)?),
                Rule::evidence_by => {
                    let by_span = self.span(&p);
                    let kind = self.idents(p).pop();
                    by = Some((by_span, required(kind, by_span)?));
                }
                Rule::kw_bound => bound = Some(self.span(&p)),
                _ => {}
            }
        }
        let by_human = by.as_ref().filter(|(_, kind)| kind.name == "human").map(|(s, _)| *s);
        Ok(EvidenceDecl {
            doc: self.doc(span),
            name: required(name, span)?,
            fields,
            by_human,
            by_kind: by.map(|(_, kind)| kind),
            bound,
            span,
        })
    }

    fn workflow(&self, pair: P<'_>) -> BuildResult<WorkflowDecl> {
        let span = self.span(&pair);
        let (mut name, mut body) = (None, Vec::new());
        for p in children(pair) {
            match p.as_rule() {
                Rule::decl_name => name = Some(self.ident(&p)),
                Rule::workflow_item => body.push(self.workflow_item(p)?),
                _ => {}
            }
        }
        Ok(WorkflowDecl { doc: self.doc(span), name: required(name, span)?, body, span })
    }

    pub fn workflow_item(&self, pair: P<'_>) -> BuildResult<WorkflowItem> {
        let inner = self.single(pair)?;
        let span = self.span(&inner);
        Ok(match inner.as_rule() {
            Rule::max_depth_item => {
                WorkflowItem::MaxDepth(self.int(&self.child(inner, Rule::integer)?)?)
            }
            Rule::ttl_item => {
                WorkflowItem::Ttl(self.duration(&self.child(inner, Rule::duration)?)?)
            }
            Rule::rule => WorkflowItem::Rule(self.rule(inner)?),
            _ => return Err(malformed(span)),
        })
    }

    // ---- rules --------------------------------------------------------------------------------

    fn rule(&self, pair: P<'_>) -> BuildResult<ast::Rule> {
        let span = self.span(&pair);
        let inner = self.single(pair)?;
        let kind_rule = inner.as_rule();
        let (mut target, mut start, mut require) = (None, None, None);
        let mut clauses = Vec::new();
        for p in children(inner) {
            match p.as_rule() {
                Rule::target => target = Some(self.target(p)?),
                Rule::start_target => {
                    let start_span = self.span(&p);
                    start = Some(start_span);
                    target = Some(Target { kind: TargetKind::Start, span: start_span });
                }
                Rule::evidence_list => require = Some(self.evidence_list(p)?),
                Rule::by_clause
                | Rule::when_clause
                | Rule::unless_clause
                | Rule::require_clause
                | Rule::because_clause => clauses.push(p),
                _ => {}
            }
        }
        let Clauses { by, when, unless, require: required_evidence, because } =
            self.clauses(clauses)?;
        let kind = match kind_rule {
            Rule::start_rule => RuleKind::Start { by, when, unless, require: required_evidence },
            Rule::allow_rule => RuleKind::Allow {
                target: required(target, span)?,
                when,
                unless,
                require: required_evidence,
            },
            Rule::deny_rule => {
                RuleKind::Deny { target: required(target, span)?, when, unless, because }
            }
            Rule::deny_start_rule => {
                RuleKind::DenyStart { start: required(start, span)?, when, unless, because }
            }
            Rule::require_for_rule => RuleKind::RequireFor {
                require: required(require, span)?,
                target: required(target, span)?,
                when,
                unless,
            },
            _ => return Err(malformed(span)),
        };
        Ok(ast::Rule { doc: self.doc(span), kind, span })
    }

    /// Reads the clauses of a rule or entitlement, checking that they come in the order of the
    /// table in LANGUAGE.md §3 (`by`, `when`, `unless`, then `require` or `because`) and that
    /// none is repeated.
    fn clauses(&self, pairs: Vec<P<'_>>) -> BuildResult<Clauses> {
        let mut clauses = Clauses::default();
        let mut seen: Vec<(usize, &str)> = Vec::new();
        for pair in pairs {
            let (order, keyword) = match pair.as_rule() {
                Rule::by_clause => (0, "by"),
                Rule::when_clause => (1, "when"),
                Rule::unless_clause => (2, "unless"),
                Rule::require_clause => (3, "require"),
                Rule::because_clause => (3, "because"),
                _ => return Err(malformed(self.span(&pair))),
            };
            let keyword_span = match pair.clone().into_inner().next() {
                Some(kw) => self.span(&kw),
                None => self.span(&pair),
            };
            if seen.iter().any(|&(_, k)| k == keyword) {
                return Err(error(format!("duplicate `{keyword}` clause"), keyword_span));
            }
            if let Some(&(_, later)) = seen.iter().find(|&&(o, _)| o > order) {
                return Err(error(format!("`{keyword}` must come before `{later}`"), keyword_span));
            }
            seen.push((order, keyword));
            match pair.as_rule() {
                Rule::by_clause => clauses.by = self.idents(pair),
                Rule::when_clause => {
                    clauses.when = Some(self.condition(self.child(pair, Rule::expr)?)?)
                }
                Rule::unless_clause => {
                    clauses.unless = Some(self.condition(self.child(pair, Rule::expr)?)?)
                }
                Rule::require_clause => {
                    clauses.require = self.evidence_list(self.child(pair, Rule::evidence_list)?)?
                }
                _ => clauses.because = Some(self.string(&self.child(pair, Rule::string)?)?),
            }
        }
        Ok(clauses)
    }

    fn target(&self, pair: P<'_>) -> BuildResult<Target> {
        let span = self.span(&pair);
        let inner = self.single(pair)?;
        let kind = match inner.as_rule() {
            Rule::tag_target => TargetKind::Tags(self.idents(inner)),
            Rule::glob if inner.as_str() == "*" => TargetKind::All,
            Rule::glob => TargetKind::Glob(inner.as_str().to_string()),
            Rule::tool_name => TargetKind::Tool(self.tool_name(&inner)),
            _ => return Err(malformed(span)),
        };
        Ok(Target { kind, span })
    }

    fn evidence_list(&self, pair: P<'_>) -> BuildResult<Vec<EvidenceRequirement>> {
        self.all(pair, Rule::requirement).map(|p| self.requirement(p)).collect()
    }

    fn requirement(&self, pair: P<'_>) -> BuildResult<EvidenceRequirement> {
        let span = self.span(&pair);
        let (mut count, mut name, mut fields, mut by) = (None, None, Vec::new(), None);
        let mut after_by = false;
        for p in children(pair) {
            match p.as_rule() {
                Rule::integer => count = Some(self.int(&p)?),
                Rule::field_args => fields = self.field_values(p)?,
                Rule::kw_by => after_by = true,
                Rule::ident if after_by => by = Some(self.ident(&p)),
                Rule::ident => name = Some(self.ident(&p)),
                _ => {}
            }
        }
        Ok(EvidenceRequirement { count, name: required(name, span)?, fields, by, span })
    }

    fn field_values(&self, pair: P<'_>) -> BuildResult<Vec<FieldValue>> {
        self.all(pair, Rule::field_value).map(|p| self.field_value(p)).collect()
    }

    fn field_value(&self, pair: P<'_>) -> BuildResult<FieldValue> {
        let span = self.span(&pair);
        let (mut name, mut value) = (None, None);
        for p in children(pair) {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(&p)),
                Rule::value => value = Some(self.atom(self.single(p)?)?),
                _ => {}
            }
        }
        Ok(FieldValue { name: required(name, span)?, value: required(value, span)?, span })
    }

    // ---- conditions ---------------------------------------------------------------------------

    fn condition(&self, pair: P<'_>) -> BuildResult<Expr> {
        self.expr(pair).map(|(expr, _)| expr)
    }

    /// Builds an expression and returns it with its depth.
    fn expr(&self, pair: P<'_>) -> BuildResult<(Expr, usize)> {
        match pair.as_rule() {
            Rule::expr | Rule::and_expr => self.logic(pair),
            Rule::not_expr => self.not(pair),
            Rule::cmp_expr => self.comparison(pair),
            Rule::operand => self.operand(pair),
            _ => Err(malformed(self.span(&pair))),
        }
    }

    /// `a or b or c` and `a and b and c`, as left-associative binary nodes.
    fn logic(&self, pair: P<'_>) -> BuildResult<(Expr, usize)> {
        let is_or = pair.as_rule() == Rule::expr;
        let span = self.span(&pair);
        let mut operands =
            children(pair).filter(|p| !matches!(p.as_rule(), Rule::kw_or | Rule::kw_and));
        let (mut acc, mut depth) = self.expr(required(operands.next(), span)?)?;
        for operand in operands {
            let (rhs, rhs_depth) = self.expr(operand)?;
            depth = self.deeper(depth.max(rhs_depth), span)?;
            let span = acc.span.to(rhs.span);
            let (lhs, rhs) = (Box::new(acc), Box::new(rhs));
            let kind = if is_or { ExprKind::Or(lhs, rhs) } else { ExprKind::And(lhs, rhs) };
            acc = Expr { kind, span };
        }
        Ok((acc, depth))
    }

    /// One more level above a subtree of depth `depth`, if that stays within the limit.
    fn deeper(&self, depth: usize, span: Span) -> BuildResult<usize> {
        if depth >= MAX_EXPR_DEPTH {
            return Err(error_of(
                ParseErrorKind::Limit,
                format!(
                    "this condition is too complex: it nests more than {MAX_EXPR_DEPTH} operators"
                ),
                span,
            ));
        }
        Ok(depth + 1)
    }

    fn not(&self, pair: P<'_>) -> BuildResult<(Expr, usize)> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let first = required(inner.next(), span)?;
        if first.as_rule() != Rule::kw_not {
            return self.expr(first);
        }
        let (operand, depth) = self.expr(required(inner.next(), span)?)?;
        let depth = self.deeper(depth, span)?;
        Ok((Expr { kind: ExprKind::Not(Box::new(operand)), span }, depth))
    }

    fn comparison(&self, pair: P<'_>) -> BuildResult<(Expr, usize)> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let first = required(inner.next(), span)?;
        if first.as_rule() == Rule::quantified {
            return self.quantified(first);
        }
        let (lhs, lhs_depth) = self.expr(first)?;
        let Some(tail) = inner.next() else {
            return Ok((lhs, lhs_depth));
        };
        let tail_rule = tail.as_rule();
        let mut parts = children(tail);
        let operator = required(parts.next(), span)?;
        let operator_span = self.span(&operator);
        if tail_rule == Rule::has_role_tail {
            let role = required(parts.find(|p| p.as_rule() == Rule::ident), span)?;
            let ExprKind::Principal(principal, principal_span) = lhs.kind else {
                return Err(error(
                    "`has role` needs `initiator`, `caller` or `principal` before it",
                    lhs.span,
                ));
            };
            let kind = ExprKind::HasRole { principal, principal_span, role: self.ident(&role) };
            return Ok((Expr { kind, span }, self.deeper(lhs_depth, span)?));
        }
        if tail_rule == Rule::matches_tail {
            let pattern = self.string(&required(parts.next(), span)?)?;
            let kind = ExprKind::Matches { value: Box::new(lhs), pattern };
            return Ok((Expr { kind, span }, self.deeper(lhs_depth, span)?));
        }
        let kind = match tail_rule {
            Rule::runs_tail => {
                let pattern = self.pattern(required(parts.next(), span)?)?;
                ExprKind::Runs { command: Box::new(lhs), op_span: operator_span, pattern }
            }
            Rule::runs_only_tail => {
                let only = required(parts.next(), span)?;
                let list = required(parts.next(), span)?;
                let list_span = self.span(&list);
                let patterns = self.all(list, Rule::pattern).map(|p| self.pattern(p));
                ExprKind::RunsOnly {
                    command: Box::new(lhs),
                    op_span: operator_span.to(self.span(&only)),
                    patterns: patterns.collect::<Result<_, _>>()?,
                    list_span,
                }
            }
            Rule::under_tail => {
                let dir = self.string(&required(parts.next(), span)?)?;
                ExprKind::Under { path: Box::new(lhs), op_span: operator_span, dir }
            }
            _ => return self.binary(lhs, lhs_depth, tail_rule, operator, parts, span),
        };
        Ok((Expr { kind, span }, self.deeper(lhs_depth, span)?))
    }

    /// The comparisons with an operand on each side: `==` and the others, `in`, `contains`.
    fn binary<'i>(
        &self,
        lhs: Expr,
        lhs_depth: usize,
        tail_rule: Rule,
        operator: P<'i>,
        mut parts: impl Iterator<Item = P<'i>>,
        span: Span,
    ) -> BuildResult<(Expr, usize)> {
        let operator_span = self.span(&operator);
        let (rhs, rhs_depth) = self.expr(required(parts.next(), span)?)?;
        let depth = self.deeper(lhs_depth.max(rhs_depth), span)?;
        let (lhs, rhs) = (Box::new(lhs), Box::new(rhs));
        let kind = match tail_rule {
            Rule::compare => ExprKind::Compare {
                op: compare_op(operator.as_str()).ok_or_else(|| malformed(operator_span))?,
                op_span: operator_span,
                lhs,
                rhs,
            },
            Rule::in_tail => ExprKind::In { value: lhs, list: rhs },
            Rule::contains_tail => ExprKind::Contains { list: lhs, value: rhs },
            _ => return Err(malformed(span)),
        };
        Ok((Expr { kind, span }, depth))
    }

    /// A command pattern: `["git", "push", ...]`.
    fn pattern(&self, pair: P<'_>) -> BuildResult<CommandPattern> {
        let span = self.span(&pair);
        let items = self.all(pair, Rule::pattern_item).map(|item| {
            let inner = self.single(item)?;
            match inner.as_rule() {
                Rule::string => Ok(PatternItem::Word(self.string(&inner)?)),
                Rule::rest => Ok(PatternItem::Rest(self.span(&inner))),
                _ => Err(malformed(self.span(&inner))),
            }
        });
        Ok(CommandPattern { items: items.collect::<Result<_, _>>()?, span })
    }

    fn quantified(&self, pair: P<'_>) -> BuildResult<(Expr, usize)> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let quantifier = match required(inner.next(), span)?.as_rule() {
            Rule::kw_any => Quantifier::Any,
            _ => Quantifier::All,
        };
        let (list, depth) = self.expr(required(inner.next(), span)?)?;
        let pattern = required(inner.find(|p| p.as_rule() == Rule::string), span)?;
        let kind = ExprKind::Quantified {
            quantifier,
            list: Box::new(list),
            pattern: self.string(&pattern)?,
        };
        Ok((Expr { kind, span }, self.deeper(depth, span)?))
    }

    fn operand(&self, pair: P<'_>) -> BuildResult<(Expr, usize)> {
        let inner = self.single(pair)?;
        let span = self.span(&inner);
        let kind = match inner.as_rule() {
            Rule::paren => {
                let (expr, depth) = self.expr(self.child(inner, Rule::expr)?)?;
                let depth = self.deeper(depth, span)?;
                return Ok((Expr { kind: ExprKind::Paren(Box::new(expr)), span }, depth));
            }
            Rule::field_ref => {
                let mut parts = children(inner);
                let (principal, principal_span) = self.principal(&required(parts.next(), span)?)?;
                let field = self.ident(&required(parts.next(), span)?);
                ExprKind::Field { principal, principal_span, field }
            }
            Rule::context_ref => {
                let name =
                    required(children(inner).find(|p| p.as_rule() == Rule::field_name), span)?;
                ExprKind::Context(self.ident(&name))
            }
            Rule::principal_ref => {
                let (principal, principal_span) = self.principal(&inner)?;
                ExprKind::Principal(principal, principal_span)
            }
            Rule::kw_depth => ExprKind::Depth,
            Rule::calls_expr => {
                let target = self.target(self.child(inner.clone(), Rule::target)?)?;
                let within = inner.into_inner().find(|p| p.as_rule() == Rule::duration);
                ExprKind::Calls { target, within: within.map(|d| self.duration(&d)).transpose()? }
            }
            Rule::given_expr => {
                let requirement = self.requirement(self.child(inner, Rule::requirement)?)?;
                ExprKind::Given(Box::new(requirement))
            }
            _ => return Ok((self.atom(inner)?, 1)),
        };
        Ok((Expr { kind, span }, 1))
    }

    fn principal(&self, pair: &P<'_>) -> BuildResult<(PrincipalRef, Span)> {
        let span = self.span(pair);
        let principal = match pair.as_str() {
            "initiator" => PrincipalRef::Initiator,
            "caller" => PrincipalRef::Caller,
            "principal" => PrincipalRef::Principal,
            _ => return Err(malformed(span)),
        };
        Ok((principal, span))
    }

    /// A literal or a bare name: the values that can appear both in conditions and as field
    /// values.
    fn atom(&self, pair: P<'_>) -> BuildResult<Expr> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::string => ExprKind::Str(self.string(&pair)?.value),
            Rule::integer => ExprKind::Int(self.int(&pair)?.value),
            Rule::duration => ExprKind::Duration(self.duration(&pair)?),
            Rule::kw_true => ExprKind::Bool(true),
            Rule::kw_false => ExprKind::Bool(false),
            Rule::list => {
                let items = self.all(pair, Rule::string).map(|s| self.string(&s));
                ExprKind::List(items.collect::<Result<_, _>>()?)
            }
            Rule::ident => ExprKind::Name(self.ident(&pair)),
            _ => return Err(malformed(span)),
        };
        Ok(Expr { kind, span })
    }

    // ---- literals -----------------------------------------------------------------------------

    pub fn string(&self, pair: &P<'_>) -> BuildResult<StrLit> {
        let span = self.span(pair);
        let raw = pair.as_str();
        let body = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
        let value = unescape(body, span.start as usize + 1)?;
        Ok(StrLit { value, span })
    }

    fn int(&self, pair: &P<'_>) -> BuildResult<IntLit> {
        let span = self.span(pair);
        let value = pair.as_str().parse::<i64>().map_err(|_| {
            error_of(
                ParseErrorKind::NumberTooLarge,
                format!(
                    "integer `{}` is too large: the largest is {}",
                    shorten(pair.as_str()),
                    i64::MAX
                ),
                span,
            )
        })?;
        Ok(IntLit { value, span })
    }

    fn duration(&self, pair: &P<'_>) -> BuildResult<DurationLit> {
        let span = self.span(pair);
        let text = pair.as_str();
        let (digits, unit) = text.split_at(text.len().saturating_sub(1));
        let unit = unit.chars().next().ok_or_else(|| malformed(span))?;
        let multiplier = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(malformed(span)),
        };
        let too_large = || {
            error_of(
                ParseErrorKind::NumberTooLarge,
                format!("duration `{}` is too large to count in 64-bit seconds", shorten(text)),
                span,
            )
        };
        let amount = digits.parse::<i64>().map_err(|_| too_large())?;
        let seconds = amount.checked_mul(multiplier).ok_or_else(too_large)?;
        Ok(DurationLit { amount, unit, seconds, span })
    }

    // ---- tests (fixtures and expectations) ----------------------------------------------------

    fn fixture(&self, pair: P<'_>) -> BuildResult<FixtureDecl> {
        let span = self.span(&pair);
        let (mut name, mut kind, mut roles, mut attrs) = (None, None, Vec::new(), Vec::new());
        for p in children(pair) {
            match p.as_rule() {
                Rule::decl_name => name = Some(self.ident(&p)),
                Rule::ident => kind = Some(self.ident(&p)),
                Rule::fixture_roles => roles = self.idents(p),
                Rule::fixture_attrs => attrs = self.field_values(p)?,
                _ => {}
            }
        }
        Ok(FixtureDecl {
            doc: self.doc(span),
            name: required(name, span)?,
            kind: required(kind, span)?,
            roles,
            attrs,
            span,
        })
    }

    fn test(&self, pair: P<'_>) -> BuildResult<TestDecl> {
        let span = self.span(&pair);
        let (mut name, mut expectations) = (None, Vec::new());
        for p in children(pair) {
            match p.as_rule() {
                Rule::string => name = Some(self.string(&p)?),
                Rule::expectation => expectations.push(self.expectation(p)?),
                _ => {}
            }
        }
        Ok(TestDecl { doc: self.doc(span), name: required(name, span)?, expectations, span })
    }

    pub fn expectation(&self, pair: P<'_>) -> BuildResult<Expectation> {
        let span = self.span(&pair);
        let (mut outcome, mut missing, mut request) = (None, None, None);
        for p in children(pair) {
            match p.as_rule() {
                Rule::outcome => {
                    let value = match p.as_str() {
                        "allow" => Outcome::Allow,
                        "deny" => Outcome::Deny,
                        _ => Outcome::Pending,
                    };
                    outcome = Some((value, self.span(&p)));
                }
                Rule::missing_list => missing = Some((self.span(&p), self.idents(p))),
                Rule::request => request = Some(self.request(p)?),
                _ => {}
            }
        }
        let (outcome, outcome_span) = required(outcome, span)?;
        let misplaced = missing.as_ref().filter(|_| outcome != Outcome::Pending);
        if let Some((missing_span, _)) = misplaced {
            return Err(error("only `pending` can list the missing evidence", *missing_span));
        }
        Ok(Expectation {
            doc: self.doc(span),
            outcome,
            outcome_span,
            missing: missing.map(|(_, names)| names),
            request: required(request, span)?,
            span,
        })
    }

    fn request(&self, pair: P<'_>) -> BuildResult<TestRequest> {
        let span = self.span(&pair);
        let (mut chain, mut action, mut evidence, mut context) =
            (Vec::new(), None, Vec::new(), Vec::new());
        let mut ttl = None;
        let mut run = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::cwd_clause | Rule::time_clause | Rule::history_clause => run.push(p),
                Rule::chain => chain = self.idents(p),
                Rule::call_action => action = Some(self.call(p)?),
                Rule::start_action => {
                    let workflow = self.child(p, Rule::ident)?;
                    action = Some(TestAction::Start { workflow: self.ident(&workflow), ttl: None });
                }
                Rule::with_clause => {
                    let given = self.all(p, Rule::test_evidence).map(|g| self.test_evidence(g));
                    evidence = given.collect::<Result<_, _>>()?;
                }
                Rule::context_clause => context = self.field_values(p)?,
                Rule::ttl_clause => {
                    let clause_span = self.span(&p);
                    ttl = Some((clause_span, self.duration(&self.child(p, Rule::duration)?)?));
                }
                _ => {}
            }
        }
        let mut action = required(action, span)?;
        if let Some((clause_span, duration)) = ttl {
            match &mut action {
                TestAction::Start { ttl, .. } => *ttl = Some(duration),
                TestAction::Call { .. } => {
                    return Err(error("`ttl` applies only to `starts` requests", clause_span));
                }
            }
        }
        let RunClauses { cwd, time, history } = self.run_clauses(run)?;
        Ok(TestRequest { chain, action, evidence, context, cwd, time, history, span })
    }

    /// A test request's `in "CWD"`, `at "TIME"` and `after [...]`, checking that they come in
    /// that order and that none is repeated.
    fn run_clauses(&self, pairs: Vec<P<'_>>) -> BuildResult<RunClauses> {
        let mut clauses = RunClauses::default();
        let mut seen: Vec<(usize, &str)> = Vec::new();
        for pair in pairs {
            let (order, keyword) = match pair.as_rule() {
                Rule::cwd_clause => (0, "in"),
                Rule::time_clause => (1, "at"),
                Rule::history_clause => (2, "after"),
                _ => return Err(malformed(self.span(&pair))),
            };
            let keyword_span = match pair.clone().into_inner().next() {
                Some(kw) => self.span(&kw),
                None => self.span(&pair),
            };
            if seen.iter().any(|&(_, k)| k == keyword) {
                return Err(error(format!("duplicate `{keyword}` clause"), keyword_span));
            }
            if let Some(&(_, later)) = seen.iter().find(|&&(o, _)| o > order) {
                return Err(error(format!("`{keyword}` must come before `{later}`"), keyword_span));
            }
            seen.push((order, keyword));
            match pair.as_rule() {
                Rule::cwd_clause => {
                    clauses.cwd = Some(self.string(&self.child(pair, Rule::cwd_value)?)?);
                }
                Rule::time_clause => {
                    clauses.time = Some(self.string(&self.child(pair, Rule::time_value)?)?);
                }
                _ => {
                    let list = self.child(pair, Rule::history_list)?;
                    let entries =
                        self.all(list, Rule::history_entry).map(|e| self.history_entry(e));
                    clauses.history = Some(entries.collect::<Result<_, _>>()?);
                }
            }
        }
        Ok(clauses)
    }

    /// `TOOL`, `TOOL at "TIME"` or `TOOL DURATION ago`.
    fn history_entry(&self, pair: P<'_>) -> BuildResult<TestHistoryEntry> {
        let span = self.span(&pair);
        let (mut tool, mut at) = (None, None);
        for p in children(pair) {
            match p.as_rule() {
                Rule::tool_name => tool = Some(self.tool_name(&p)),
                Rule::time_value => at = Some(HistoryTime::At(self.string(&p)?)),
                Rule::duration => at = Some(HistoryTime::Ago(self.duration(&p)?)),
                _ => {}
            }
        }
        Ok(TestHistoryEntry { tool: required(tool, span)?, at, span })
    }

    // ---- assertions ---------------------------------------------------------------------------

    fn assert(&self, pair: P<'_>) -> BuildResult<AssertDecl> {
        let span = self.span(&pair);
        let (mut name, mut claims) = (None, Vec::new());
        for p in children(pair) {
            match p.as_rule() {
                Rule::assert_name => name = Some(self.string(&p)?),
                Rule::claim => claims.push(self.claim(p)?),
                _ => {}
            }
        }
        Ok(AssertDecl { doc: self.doc(span), name: required(name, span)?, claims, span })
    }

    /// `never allow [via WORKFLOW] TARGET [when C] [unless C]` or
    /// `never start WORKFLOW [when C] [unless C]`.
    pub fn claim(&self, pair: P<'_>) -> BuildResult<Claim> {
        let span = self.span(&pair);
        let mut kind = None;
        let mut clauses = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::never_allow => {
                    let (mut via, mut target) = (None, None);
                    for part in children(p) {
                        match part.as_rule() {
                            Rule::ident => via = Some(self.ident(&part)),
                            Rule::target => target = Some(self.target(part)?),
                            _ => {}
                        }
                    }
                    kind = Some(ClaimKind::NeverAllow { via, target: required(target, span)? });
                }
                Rule::never_start => {
                    let workflow = self.ident(&self.child(p, Rule::ident)?);
                    kind = Some(ClaimKind::NeverStart { workflow });
                }
                Rule::when_clause | Rule::unless_clause => clauses.push(p),
                _ => {}
            }
        }
        let clauses = self.clauses(clauses)?;
        Ok(Claim {
            doc: self.doc(span),
            kind: required(kind, span)?,
            when: clauses.when,
            unless: clauses.unless,
            span,
        })
    }

    fn call(&self, pair: P<'_>) -> BuildResult<TestAction> {
        let span = self.span(&pair);
        let (mut workflow, mut tool, mut args) = (None, None, Vec::new());
        for p in children(pair) {
            match p.as_rule() {
                Rule::ident => workflow = Some(self.ident(&p)),
                Rule::tool_name => tool = Some(self.tool_name(&p)),
                Rule::call_args => args = self.field_values(p)?,
                _ => {}
            }
        }
        Ok(TestAction::Call {
            workflow: required(workflow, span)?,
            tool: required(tool, span)?,
            args,
        })
    }

    fn test_evidence(&self, pair: P<'_>) -> BuildResult<TestEvidence> {
        let span = self.span(&pair);
        let (mut name, mut fields, mut by) = (None, Vec::new(), None);
        let mut after_by = false;
        for p in children(pair) {
            match p.as_rule() {
                Rule::field_args => fields = self.field_values(p)?,
                Rule::kw_by => after_by = true,
                Rule::ident if after_by => by = Some(self.ident(&p)),
                Rule::ident => name = Some(self.ident(&p)),
                _ => {}
            }
        }
        Ok(TestEvidence { name: required(name, span)?, fields, by, span })
    }

    /// The first child of `pair` produced by the grammar rule `of`.
    fn child<'i>(&self, pair: P<'i>, of: Rule) -> BuildResult<P<'i>> {
        let span = self.span(&pair);
        required(pair.into_inner().find(|p| p.as_rule() == of), span)
    }
}

#[derive(Default)]
struct RunClauses {
    cwd: Option<StrLit>,
    time: Option<StrLit>,
    history: Option<Vec<TestHistoryEntry>>,
}

#[derive(Default)]
struct Clauses {
    by: Vec<Ident>,
    when: Option<Expr>,
    unless: Option<Expr>,
    require: Vec<EvidenceRequirement>,
    because: Option<StrLit>,
}

fn compare_op(text: &str) -> Option<CompareOp> {
    Some(match text {
        "==" => CompareOp::Eq,
        "!=" => CompareOp::Ne,
        "<" => CompareOp::Lt,
        "<=" => CompareOp::Le,
        ">" => CompareOp::Gt,
        ">=" => CompareOp::Ge,
        _ => return None,
    })
}

/// The value of a string literal's body (between the quotes), which starts at byte `start` of
/// the source. Escapes: `\"` `\\` `\n` `\t` `\u{1F600}`.
fn unescape(body: &str, start: usize) -> BuildResult<String> {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(backslash) = rest.find('\\') {
        out.push_str(&rest[..backslash]);
        let escape = &rest[backslash..];
        let at = start + (body.len() - rest.len()) + backslash;
        let (value, len) = match escape[1..].chars().next() {
            Some('"') => ('"', 2),
            Some('\\') => ('\\', 2),
            Some('n') => ('\n', 2),
            Some('t') => ('\t', 2),
            Some('u') => unicode_escape(escape).ok_or_else(|| {
                let len = unicode_escape_len(escape);
                error(
                    format!(
                        "invalid unicode escape `{}`: write 1 to 6 hex digits naming a character, as in `\\u{{1F600}}`",
                        shorten(&escape[..len])
                    ),
                    Span::new(at, at + len),
                )
            })?,
            Some(other) => {
                let len = 1 + other.len_utf8();
                return Err(error(
                    format!(
                        "unknown escape `{}` in string: the escapes are `\\\"`, `\\\\`, `\\n`, `\\t` and `\\u{{...}}`",
                        shorten(&escape[..len])
                    ),
                    Span::new(at, at + len),
                ));
            }
            None => return Err(error("unfinished escape at the end of the string", Span::new(at, at + 1))),
        };
        out.push(value);
        rest = &escape[len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `\u{HEX}` at the start of `escape`: the character and the escape's length in bytes.
fn unicode_escape(escape: &str) -> Option<(char, usize)> {
    let inner = escape.strip_prefix("\\u{")?;
    let close = inner.find('}')?;
    let hex = &inner[..close];
    if hex.is_empty() || hex.len() > 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
    Some((c, 3 + close + 1))
}

/// How much of a bad `\u` escape to show: up to its `}` if one is near, else `\u`.
fn unicode_escape_len(escape: &str) -> usize {
    match escape.find('}') {
        Some(close) if close <= 12 => close + 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(unescape(r#"a\"b\\c\nd\te\u{1F600}\u{41}"#, 0).unwrap(), "a\"b\\c\nd\te😀A");
        assert_eq!(unescape("é\\u{e9}", 0).unwrap(), "éé");
    }

    #[test]
    fn bad_escapes_point_at_the_escape() {
        let err = unescape(r"ab\q", 10).unwrap_err();
        assert_eq!(err.span, Span::new(12, 14));
        assert!(err.message.starts_with("unknown escape `\\q`"), "{}", err.message);
        for bad in [r"\u{D800}", r"\u{}", r"\u{1234567}", r"\u{zz}", r"\u12", r"\u{110000}"] {
            let err = unescape(bad, 0).unwrap_err();
            assert!(err.message.starts_with("invalid unicode escape"), "{bad}: {}", err.message);
            assert_eq!(err.span.start, 0);
        }
        assert_eq!(unescape(r"\u{D800}", 0).unwrap_err().span, Span::new(0, 8));
    }
}
