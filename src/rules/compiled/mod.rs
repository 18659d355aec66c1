//! A fast path for rule expressions: the parsed CEL tree compiled into a
//! tree whose variables are slots, whose operators and functions are
//! resolved once, and whose member keys are built once.
//!
//! It is only ever a shortcut for the `cel` interpreter, never a second
//! meaning: an expression it cannot compile (a construct or function it
//! does not know) is left to the interpreter, and when a compiled
//! expression fails in any way the engine runs the interpreter on it, so
//! that every error (and so every diagnostic) is the interpreter's own.
//! What it must get right is a successful result, which mirrors the
//! interpreter operation by operation (`cel` 0.12): checked against it on
//! every built-in rule and on hand-written expressions in the tests.

use std::sync::Arc;

use cel::common::ast::{Expr, operators};
use cel::objects::Key;
use cel::{IdedExpr, Value};

use super::functions::{self, Lookup};

/// The variables an expression can name, in slot order (`item` last; the
/// others are [`super::VARIABLES`]).
pub const GLOBALS: [&str; 17] = [
    "pipeline",
    "sources",
    "connections",
    "s3_sources",
    "builds",
    "deploys",
    "instances",
    "ecs_services",
    "images",
    "functions",
    "stores",
    "triggers",
    "stacks",
    "service_roles",
    "release_paths",
    "config",
    "item",
];

/// The slot of `item`, the one variable set per element of `for_each`.
pub const ITEM: usize = GLOBALS.len() - 1;

/// A compiled expression.
#[derive(Debug)]
pub struct Compiled {
    root: Node,
    /// How many comprehension slots it uses.
    slots: usize,
}

#[derive(Debug, Clone, Copy)]
enum Bin {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    In,
}

#[derive(Debug, Clone, Copy)]
enum Method {
    StartsWith,
    EndsWith,
    Contains,
}

#[derive(Debug)]
enum Node {
    Lit(Value),
    Global(usize),
    Local(usize),
    Select(Box<Node>, Key),
    Index(Box<Node>, Box<Node>),
    Cond(Box<[Node; 3]>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    NotStrictlyFalse(Box<Node>),
    Bin(Bin, Box<Node>, Box<Node>),
    List(Vec<Node>),
    Size(Box<Node>),
    Method(Method, Box<Node>, Box<Node>),
    Helper(&'static str, Vec<Node>),
    Comprehension(Box<Comprehension>),
}

#[derive(Debug)]
struct Comprehension {
    range: Node,
    accu_init: Node,
    loop_cond: Node,
    loop_step: Node,
    result: Node,
    iter_slot: usize,
    accu_slot: usize,
}

/// Why a compiled expression gave no value: the engine then asks the
/// interpreter, which reports the error in its own words.
#[derive(Debug)]
pub struct Failed;

type R = Result<Value, Failed>;

impl Compiled {
    /// Compiles an expression, or `None` when it uses anything this fast
    /// path does not know (the interpreter then runs it).
    pub fn new(program: &cel::Program) -> Option<Compiled> {
        let mut c = Compiler {
            locals: Vec::new(),
            slots: 0,
        };
        let root = c.node(program.expression())?;
        Some(Compiled {
            root,
            slots: c.slots,
        })
    }

    /// Evaluates with `globals` (by [`GLOBALS`] slot; `None` when not bound).
    pub fn eval(&self, globals: &[Option<Value>], lookup: &Lookup) -> R {
        let mut locals: Vec<Option<Value>> = vec![None; self.slots];
        eval(&self.root, globals, &mut locals, lookup)
    }
}

struct Compiler {
    /// Comprehension variables in scope, innermost last, with their slots.
    locals: Vec<(String, usize)>,
    slots: usize,
}

impl Compiler {
    fn boxed(&mut self, e: &IdedExpr) -> Option<Box<Node>> {
        self.node(e).map(Box::new)
    }

    fn node(&mut self, e: &IdedExpr) -> Option<Node> {
        Some(match &e.expr {
            Expr::Literal(v) => Node::Lit(Value::from(v.clone())),
            Expr::Ident(name) => match self.locals.iter().rev().find(|(n, _)| n == name) {
                Some((_, slot)) => Node::Local(*slot),
                None => Node::Global(GLOBALS.iter().position(|g| g == name)?),
            },
            Expr::Select(sel) if !sel.test => Node::Select(
                self.boxed(&sel.operand)?,
                Key::String(Arc::new(sel.field.clone())),
            ),
            Expr::List(l) if l.optional_indices.is_empty() => Node::List(
                l.elements
                    .iter()
                    .map(|e| self.node(e))
                    .collect::<Option<Vec<_>>>()?,
            ),
            Expr::Call(call) => self.call(call)?,
            Expr::Comprehension(c) if c.iter_var2.is_none() => {
                let range = self.node(&c.iter_range)?;
                let accu_init = self.node(&c.accu_init)?;
                let accu_slot = self.slots;
                let iter_slot = self.slots + 1;
                self.slots += 2;
                let depth = self.locals.len();
                self.locals.push((c.accu_var.clone(), accu_slot));
                self.locals.push((c.iter_var.clone(), iter_slot));
                let body = (|| {
                    Some((
                        self.node(&c.loop_cond)?,
                        self.node(&c.loop_step)?,
                        self.node(&c.result)?,
                    ))
                })();
                self.locals.truncate(depth);
                let (loop_cond, loop_step, result) = body?;
                Node::Comprehension(Box::new(Comprehension {
                    range,
                    accu_init,
                    loop_cond,
                    loop_step,
                    result,
                    iter_slot,
                    accu_slot,
                }))
            }
            _ => return None,
        })
    }

    fn call(&mut self, call: &cel::common::ast::CallExpr) -> Option<Node> {
        let name = call.func_name.as_str();
        let args = &call.args;
        if call.target.is_none() {
            match (name, args.len()) {
                (operators::CONDITIONAL, 3) => {
                    return Some(Node::Cond(Box::new([
                        self.node(&args[0])?,
                        self.node(&args[1])?,
                        self.node(&args[2])?,
                    ])));
                }
                (operators::LOGICAL_AND, 2) => {
                    return Some(Node::And(self.boxed(&args[0])?, self.boxed(&args[1])?));
                }
                (operators::LOGICAL_OR, 2) => {
                    return Some(Node::Or(self.boxed(&args[0])?, self.boxed(&args[1])?));
                }
                (operators::INDEX, 2) => {
                    return Some(Node::Index(self.boxed(&args[0])?, self.boxed(&args[1])?));
                }
                (operators::LOGICAL_NOT, 1) => return Some(Node::Not(self.boxed(&args[0])?)),
                (operators::NEGATE, 1) => return Some(Node::Neg(self.boxed(&args[0])?)),
                (operators::NOT_STRICTLY_FALSE, 1) => {
                    return Some(Node::NotStrictlyFalse(self.boxed(&args[0])?));
                }
                ("size", 1) => return Some(Node::Size(self.boxed(&args[0])?)),
                _ => {}
            }
            let bin = match name {
                operators::EQUALS => Some(Bin::Eq),
                operators::NOT_EQUALS => Some(Bin::Ne),
                operators::LESS => Some(Bin::Lt),
                operators::LESS_EQUALS => Some(Bin::Le),
                operators::GREATER => Some(Bin::Gt),
                operators::GREATER_EQUALS => Some(Bin::Ge),
                operators::ADD => Some(Bin::Add),
                operators::SUBSTRACT => Some(Bin::Sub),
                operators::MULTIPLY => Some(Bin::Mul),
                operators::DIVIDE => Some(Bin::Div),
                operators::MODULO => Some(Bin::Mod),
                operators::IN => Some(Bin::In),
                _ => None,
            };
            if let Some(op) = bin
                && args.len() == 2
            {
                return Some(Node::Bin(op, self.boxed(&args[0])?, self.boxed(&args[1])?));
            }
            let helper = functions::NAMES.iter().find(|n| **n == name)?;
            if functions::arity(helper) != Some(args.len()) {
                return None;
            }
            return Some(Node::Helper(
                helper,
                args.iter()
                    .map(|a| self.node(a))
                    .collect::<Option<Vec<_>>>()?,
            ));
        }
        let target = call.target.as_deref()?;
        // The interpreter first looks for a function named `<ident>.<name>`
        // when the target is a bare identifier; none is registered, but
        // leave such calls to it rather than assume so.
        if matches!(target.expr, Expr::Ident(_)) && name != "size" {
            return None;
        }
        match (name, args.len()) {
            ("size", 0) => Some(Node::Size(self.boxed(target)?)),
            ("startsWith", 1) => Some(Node::Method(
                Method::StartsWith,
                self.boxed(target)?,
                self.boxed(&args[0])?,
            )),
            ("endsWith", 1) => Some(Node::Method(
                Method::EndsWith,
                self.boxed(target)?,
                self.boxed(&args[0])?,
            )),
            ("contains", 1) => Some(Node::Method(
                Method::Contains,
                self.boxed(target)?,
                self.boxed(&args[0])?,
            )),
            _ => None,
        }
    }
}

fn to_bool(v: &Value) -> Result<bool, Failed> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(Failed),
    }
}

fn eval(n: &Node, g: &[Option<Value>], l: &mut Vec<Option<Value>>, lookup: &Lookup) -> R {
    match n {
        Node::Lit(v) => Ok(v.clone()),
        Node::Global(i) => g.get(*i).cloned().flatten().ok_or(Failed),
        Node::Local(i) => l.get(*i).cloned().flatten().ok_or(Failed),
        Node::Select(operand, key) => match path(operand, g, l) {
            // A chain of selections is followed by reference: one clone
            // (a reference count) for the value at its end.
            Some(parent) => match parent? {
                Value::Map(m) => m.map.get(key).cloned().ok_or(Failed),
                _ => Err(Failed),
            },
            None => match eval(operand, g, l, lookup)? {
                Value::Map(m) => m.map.get(key).cloned().ok_or(Failed),
                _ => Err(Failed),
            },
        },
        Node::Index(value, idx) => {
            let value = eval(value, g, l, lookup)?;
            let idx = eval(idx, g, l, lookup)?;
            match (value, idx) {
                (Value::List(items), Value::Int(i)) => usize::try_from(i)
                    .ok()
                    .and_then(|i| items.get(i).cloned())
                    .ok_or(Failed),
                (Value::List(items), Value::UInt(i)) => usize::try_from(i)
                    .ok()
                    .and_then(|i| items.get(i).cloned())
                    .ok_or(Failed),
                (Value::Map(m), Value::String(k)) => {
                    m.map.get(&Key::String(k)).cloned().ok_or(Failed)
                }
                (Value::Map(m), Value::Bool(k)) => m.map.get(&Key::Bool(k)).cloned().ok_or(Failed),
                (Value::Map(m), Value::Int(k)) => m.map.get(&Key::Int(k)).cloned().ok_or(Failed),
                (Value::Map(m), Value::UInt(k)) => m.map.get(&Key::Uint(k)).cloned().ok_or(Failed),
                _ => Err(Failed),
            }
        }
        Node::Cond(parts) => {
            let [c, a, b] = &**parts;
            if to_bool(&eval(c, g, l, lookup)?)? {
                eval(a, g, l, lookup)
            } else {
                eval(b, g, l, lookup)
            }
        }
        Node::Or(a, b) => {
            let left = eval(a, g, l, lookup)?;
            if to_bool(&left)? {
                Ok(left)
            } else {
                eval(b, g, l, lookup)
            }
        }
        Node::And(a, b) => {
            let left = eval(a, g, l, lookup)?;
            if !to_bool(&left)? {
                Ok(Value::Bool(false))
            } else {
                Ok(Value::Bool(to_bool(&eval(b, g, l, lookup)?)?))
            }
        }
        Node::Not(a) => Ok(Value::Bool(!to_bool(&eval(a, g, l, lookup)?)?)),
        Node::Neg(a) => match eval(a, g, l, lookup)? {
            Value::Int(i) => i.checked_neg().map(Value::Int).ok_or(Failed),
            Value::Float(f) => Ok(Value::Float(-f)),
            _ => Err(Failed),
        },
        Node::NotStrictlyFalse(a) => Ok(match eval(a, g, l, lookup)? {
            Value::Bool(b) => Value::Bool(b),
            _ => Value::Bool(true),
        }),
        Node::Bin(op, a, b) => {
            let left = eval(a, g, l, lookup)?;
            let right = eval(b, g, l, lookup)?;
            binary(*op, left, right)
        }
        Node::List(items) => Ok(Value::List(Arc::new(
            items
                .iter()
                .map(|i| eval(i, g, l, lookup))
                .collect::<Result<Vec<_>, _>>()?,
        ))),
        Node::Size(a) => Ok(Value::Int(match eval(a, g, l, lookup)? {
            Value::List(v) => v.len(),
            Value::Map(m) => m.map.len(),
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.len(),
            _ => return Err(Failed),
        } as i64)),
        Node::Method(m, target, arg) => {
            let this = eval(target, g, l, lookup)?;
            let arg = eval(arg, g, l, lookup)?;
            match (m, this, arg) {
                (Method::StartsWith, Value::String(s), Value::String(p)) => {
                    Ok(Value::Bool(s.starts_with(p.as_str())))
                }
                (Method::EndsWith, Value::String(s), Value::String(p)) => {
                    Ok(Value::Bool(s.ends_with(p.as_str())))
                }
                (Method::Contains, this, arg) => Ok(Value::Bool(match (this, arg) {
                    (Value::List(items), arg) => items.contains(&arg),
                    (Value::Map(m), arg) => {
                        let key: Key = arg.try_into().map_err(|_| Failed)?;
                        m.map.contains_key(&key)
                    }
                    (Value::String(s), Value::String(p)) => s.contains(p.as_str()),
                    (Value::Bytes(b), Value::Bytes(p)) if !p.is_empty() => {
                        b.windows(p.len()).any(|w| w == &p[..])
                    }
                    (Value::Bytes(_), Value::Bytes(_)) => return Err(Failed),
                    _ => false,
                })),
                _ => Err(Failed),
            }
        }
        Node::Helper(name, args) => {
            // (helpers take at most three arguments: no allocation for them)
            const MAX: usize = 4;
            if args.len() > MAX {
                return Err(Failed);
            }
            let mut values: [Option<Arc<String>>; MAX] = Default::default();
            for (slot, a) in values.iter_mut().zip(args) {
                match eval(a, g, l, lookup)? {
                    Value::String(s) => *slot = Some(s),
                    _ => return Err(Failed),
                }
            }
            let strs: [&str; MAX] =
                std::array::from_fn(|i| values[i].as_deref().map_or("", String::as_str));
            match functions::call(lookup, name, &strs[..args.len()]) {
                Some(Ok(v)) => Ok(v),
                _ => Err(Failed),
            }
        }
        Node::Comprehension(c) => {
            let accu = eval(&c.accu_init, g, l, lookup)?;
            let range = eval(&c.range, g, l, lookup)?;
            let needed = c.iter_slot.max(c.accu_slot) + 1;
            if l.len() < needed {
                l.resize(needed, None);
            }
            let saved = (l[c.accu_slot].take(), l[c.iter_slot].take());
            l[c.accu_slot] = Some(accu);
            let out = (|| {
                // a list is iterated in place (its items are shared)
                let items: Arc<Vec<Value>> = match range {
                    Value::List(items) => items,
                    Value::Map(m) => Arc::new(m.map.keys().map(Value::from).collect()),
                    _ => return Err(Failed),
                };
                for item in items.iter().cloned() {
                    if !to_bool(&eval(&c.loop_cond, g, l, lookup)?)? {
                        break;
                    }
                    l[c.iter_slot] = Some(item);
                    let accu = eval(&c.loop_step, g, l, lookup)?;
                    l[c.accu_slot] = Some(accu);
                }
                eval(&c.result, g, l, lookup)
            })();
            l[c.accu_slot] = saved.0;
            l[c.iter_slot] = saved.1;
            out
        }
    }
}

/// The value of a variable or a chain of selections on one, by reference;
/// `None` when `n` is something else.
fn path<'v>(
    n: &Node,
    g: &'v [Option<Value>],
    l: &'v [Option<Value>],
) -> Option<Result<&'v Value, Failed>> {
    Some(match n {
        Node::Global(i) => g.get(*i).and_then(Option::as_ref).ok_or(Failed),
        Node::Local(i) => l.get(*i).and_then(Option::as_ref).ok_or(Failed),
        Node::Select(operand, key) => match path(operand, g, l)? {
            Ok(Value::Map(m)) => m.map.get(key).ok_or(Failed),
            _ => Err(Failed),
        },
        _ => return None,
    })
}

fn binary(op: Bin, left: Value, right: Value) -> R {
    use std::cmp::Ordering;
    let ordered = |want: fn(Ordering) -> bool| -> R {
        left.partial_cmp(&right)
            .map(|o| Value::Bool(want(o)))
            .ok_or(Failed)
    };
    match op {
        Bin::Eq => Ok(Value::Bool(left.eq(&right))),
        Bin::Ne => Ok(Value::Bool(left.ne(&right))),
        Bin::Lt => ordered(|o| o == Ordering::Less),
        Bin::Le => ordered(|o| o != Ordering::Greater),
        Bin::Gt => ordered(|o| o == Ordering::Greater),
        Bin::Ge => ordered(|o| o != Ordering::Less),
        Bin::Add => (left + right).map_err(|_| Failed),
        Bin::Sub => (left - right).map_err(|_| Failed),
        Bin::Mul => (left * right).map_err(|_| Failed),
        Bin::Div => (left / right).map_err(|_| Failed),
        Bin::Mod => (left % right).map_err(|_| Failed),
        Bin::In => match (left, right) {
            (Value::String(l), Value::String(r)) => Ok(Value::Bool(r.contains(l.as_str()))),
            (any, Value::List(v)) => Ok(Value::Bool(v.contains(&any))),
            (any, Value::Map(m)) => Ok(Value::Bool(match any.try_into() {
                Ok(key) => m.map.contains_key(&key),
                Err(_) => false,
            })),
            _ => Err(Failed),
        },
    }
}

#[cfg(test)]
mod tests;
