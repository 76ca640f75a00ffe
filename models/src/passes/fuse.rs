//! Point-wise fusion: a chain of element-wise nodes that depends on a single activation
//! becomes one [`Pointwise`] node, which quantizes as a single lookup table.
//!
//! Each product of two activations costs a rescale (a constrained division with two
//! range checks) in circuits, and each non-linear function a table lookup. GELU in its
//! tanh form (GPT-2, nanoGPT) is nine nodes (`x*0.5`, `x*0.0447`, two products by `x`,
//! an add, a scale, Tanh, `+1`, a product) of one value `x`: fused, it is one table of
//! `x`, as exact as the Tanh table alone was.
//!
//! A group grows backwards from a node over producers that are element-wise (Add, Sub,
//! Mul, Div with scalar constants, smooth activations), produce the group's shape and
//! are consumed only inside the group. It is fused when it reads exactly one
//! non-constant value, has at least three nodes and at least one non-linear step.

use std::collections::{BTreeSet, HashMap};

use crate::ir::{Graph, Node, ValueId};
use crate::ops::pointwise::{Pointwise, Step};
use crate::ops::{Activation, Arith, Op};

/// Smallest group worth a table.
const MIN_NODES: usize = 3;

/// Whether a node may join a group of output shape `shape`.
fn eligible(g: &Graph, n: &Node, shape: &[usize]) -> bool {
    if g.shape(n.output) != shape || !g.values[n.output].dtype.is_float() {
        return false;
    }
    let inputs_ok = n.inputs.iter().all(|&i| match g.constant(i) {
        Some(t) => t.data.len() == 1,
        None => g.shape(i) == shape,
    });
    let op_ok = match &n.op {
        Op::Arith(Arith::Add | Arith::Sub | Arith::Mul | Arith::Div) => n.inputs.len() == 2,
        // Exact or piece-wise ops keep their own (exact) lowering.
        Op::Activation(a) => n.inputs.len() == 1 && smooth(a),
        _ => false,
    };
    op_ok && inputs_ok
}

fn smooth(a: &Activation) -> bool {
    use Activation as A;
    !matches!(
        a,
        A::Relu
            | A::Cast { .. }
            | A::Clip { .. }
            | A::Floor
            | A::Ceil
            | A::Round
            | A::Sign
            | A::Abs
            | A::LeakyRelu { .. }
            | A::HardSigmoid { .. }
            | A::HardSwish
    )
}

/// Whether a node does something a linear map cannot (a product of activations, a
/// division by one, a function).
fn non_linear(g: &Graph, n: &Node) -> bool {
    match &n.op {
        Op::Activation(_) => true,
        Op::Arith(Arith::Mul) => n.inputs.iter().all(|&i| g.constant(i).is_none()),
        Op::Arith(Arith::Div) => g.constant(n.inputs[1]).is_none(),
        _ => false,
    }
}

/// Fuses every eligible group; returns the number of groups fused.
pub fn fuse_pointwise(g: &mut Graph) -> usize {
    let mut consumers: HashMap<ValueId, Vec<usize>> = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        for &v in &n.inputs {
            consumers.entry(v).or_default().push(i);
        }
    }
    let producer: HashMap<ValueId, usize> = g.nodes.iter().enumerate().map(|(i, n)| (n.output, i)).collect();
    let outputs: BTreeSet<ValueId> = g.outputs.iter().copied().collect();
    let mut taken = vec![false; g.nodes.len()];
    let mut fused: Vec<(usize, Vec<usize>, Node)> = Vec::new();
    for root in (0..g.nodes.len()).rev() {
        let shape = g.shape(g.nodes[root].output).to_vec();
        if taken[root] || !eligible(g, &g.nodes[root], &shape) {
            continue;
        }
        let mut group: BTreeSet<usize> = BTreeSet::from([root]);
        let mut grew = true;
        while grew {
            grew = false;
            let inputs: Vec<ValueId> = group.iter().flat_map(|&i| g.nodes[i].inputs.iter().copied()).collect();
            for v in inputs {
                let Some(&p) = producer.get(&v) else { continue };
                if group.contains(&p) || taken[p] || outputs.contains(&v) || !eligible(g, &g.nodes[p], &shape) {
                    continue;
                }
                if consumers.get(&v).is_some_and(|c| c.iter().all(|u| group.contains(u))) {
                    group.insert(p);
                    grew = true;
                }
            }
        }
        let produced: BTreeSet<ValueId> = group.iter().map(|&i| g.nodes[i].output).collect();
        let external: BTreeSet<ValueId> = group
            .iter()
            .flat_map(|&i| g.nodes[i].inputs.iter().copied())
            .filter(|v| !produced.contains(v) && g.constant(*v).is_none())
            .collect();
        if external.len() != 1 || group.len() < MIN_NODES || !group.iter().any(|&i| non_linear(g, &g.nodes[i])) {
            continue;
        }
        let x = *external.iter().next().expect("one external input");
        let program = program(g, &group, x);
        for &i in &group {
            taken[i] = true;
        }
        let r = &g.nodes[root];
        let node = Node { name: format!("{}:fused", r.name), op: Op::Pointwise(program), inputs: vec![x], output: r.output };
        fused.push((root, group.into_iter().collect(), node));
    }
    let count = fused.len();
    let mut replace: HashMap<usize, Node> = HashMap::new();
    let mut drop = vec![false; g.nodes.len()];
    for (root, group, node) in fused {
        for i in group {
            drop[i] = true;
        }
        drop[root] = false;
        replace.insert(root, node);
    }
    let nodes = std::mem::take(&mut g.nodes);
    g.nodes = nodes.into_iter().enumerate().filter(|(i, _)| !drop[*i]).map(|(i, n)| replace.remove(&i).unwrap_or(n)).collect();
    count
}

/// The program of a group (node indices in topological order) over input `x`.
fn program(g: &Graph, group: &BTreeSet<usize>, x: ValueId) -> Pointwise {
    let mut reg: HashMap<ValueId, usize> = HashMap::from([(x, 0)]);
    let mut steps = Vec::new();
    let operand = |steps: &mut Vec<Step>, reg: &mut HashMap<ValueId, usize>, v: ValueId| -> usize {
        if let Some(&r) = reg.get(&v) {
            return r;
        }
        let c = g.constant(v).map_or(f64::NAN, |t| t.data[0]);
        steps.push(Step::Const(c));
        steps.len()
    };
    for &i in group {
        let n = &g.nodes[i];
        let step = match &n.op {
            Op::Arith(a) => {
                let (p, q) = (operand(&mut steps, &mut reg, n.inputs[0]), operand(&mut steps, &mut reg, n.inputs[1]));
                Step::Arith(*a, p, q)
            }
            Op::Activation(a) => Step::Act(*a, operand(&mut steps, &mut reg, n.inputs[0])),
            _ => unreachable!("eligible nodes only"),
        };
        steps.push(step);
        reg.insert(n.output, steps.len());
    }
    Pointwise { steps }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::eval::eval;
    use crate::ir::Value;
    use crate::tensor::{DType, Tensor};

    /// GPT-2's GELU as exported: `0.5x * (1 + tanh(0.7979 * (x + 0.044715 * x*x*x)))`.
    fn gelu_graph() -> Graph {
        let mut values = vec![Value { name: "x".into(), shape: vec![1, 4], dtype: DType::F32 }];
        let mut constants = BTreeMap::new();
        let val = |values: &mut Vec<Value>, shape: Vec<usize>| {
            values.push(Value { name: format!("v{}", values.len()), shape, dtype: DType::F32 });
            values.len() - 1
        };
        let mut c = |values: &mut Vec<Value>, v: f64| {
            let id = val(values, vec![]);
            constants.insert(id, Tensor::new(vec![], vec![v], DType::F32));
            id
        };
        let (half, k, s, one) = (c(&mut values, 0.5), c(&mut values, 0.044715), c(&mut values, 0.7978845608), c(&mut values, 1.0));
        let mut nodes = Vec::new();
        let mut node = |values: &mut Vec<Value>, op: Op, inputs: Vec<ValueId>| {
            let out = val(values, vec![1, 4]);
            nodes.push(Node { name: format!("n{}", nodes.len()), op, inputs, output: out });
            out
        };
        let mul = Op::Arith(Arith::Mul);
        let a = node(&mut values, mul.clone(), vec![0, half]);
        let b = node(&mut values, mul.clone(), vec![0, k]);
        let b2 = node(&mut values, mul.clone(), vec![b, 0]);
        let b3 = node(&mut values, mul.clone(), vec![b2, 0]);
        let sum = node(&mut values, Op::Arith(Arith::Add), vec![0, b3]);
        let sc = node(&mut values, mul.clone(), vec![sum, s]);
        let th = node(&mut values, Op::Activation(Activation::Tanh), vec![sc]);
        let p1 = node(&mut values, Op::Arith(Arith::Add), vec![th, one]);
        let out = node(&mut values, mul, vec![a, p1]);
        Graph { values, inputs: vec![0], outputs: vec![out], nodes, constants }
    }

    #[test]
    fn gelu_tanh_fuses_to_one_node_with_the_same_values() {
        let g = gelu_graph();
        let mut f = g.clone();
        assert_eq!(fuse_pointwise(&mut f), 1);
        assert_eq!(f.nodes.len(), 1);
        assert!(matches!(f.nodes[0].op, Op::Pointwise(_)));
        let x = Tensor::new(vec![1, 4], vec![-3.0, -0.5, 0.25, 2.5], DType::F32);
        let (want, got) = (eval(&g, std::slice::from_ref(&x)).unwrap(), eval(&f, &[x]).unwrap());
        for (w, v) in want[0].data.iter().zip(&got[0].data) {
            assert!((w - v).abs() < 1e-12, "{w} vs {v}");
        }
        let Op::Pointwise(p) = &f.nodes[0].op else { unreachable!() };
        assert_eq!(p.tails(), Some((0.0, 1.0)));
    }

    #[test]
    fn a_value_used_outside_the_group_is_not_swallowed() {
        let mut g = gelu_graph();
        // The Tanh output also becomes a graph output: the nodes up to it cannot fuse
        // into the final product's group.
        let th = g.nodes[6].output;
        g.outputs.push(th);
        let before = eval(&g, &[Tensor::new(vec![1, 4], vec![-1.0, 0.0, 1.0, 3.0], DType::F32)]).unwrap();
        fuse_pointwise(&mut g);
        assert!(g.nodes.iter().any(|n| n.output == th), "the Tanh output is still computed");
        let after = eval(&g, &[Tensor::new(vec![1, 4], vec![-1.0, 0.0, 1.0, 3.0], DType::F32)]).unwrap();
        assert_eq!(before.len(), after.len());
        for (b, a) in before.iter().zip(&after) {
            for (x, y) in b.data.iter().zip(&a.data) {
                assert!((x - y).abs() < 1e-12);
            }
        }
    }
}
