//! Method-level reachability: vtable slots whose edges exist only while some reachable symbol
//! makes a dynamic call that could land on them. The producer adds each method slot of a vtable
//! as a [`SlotKey`] (byte offset in the vtable and an id of the function's signature) and each
//! dynamic call of a function as a [`DynamicCall`]. [`resolve_slots`] computes the fixpoint of
//! "reachable symbols make calls, calls make slots live, live slots make symbols reachable", and
//! the frozen graph holds an ordinary `VtableSlot` edge for every live slot, so reachability and
//! explanations need no special case. Slots of reachable vtables that stay dead are reported as
//! trapped: the producer replaces them with a function that traps.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::symbol::SymbolId;

/// Where a dynamic call reads its callee: the byte offset of the slot in the vtable and the
/// signature of the call, as an id the producer assigns to each distinct function type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotKey {
    pub offset: u64,
    pub signature: u32,
}

/// A dynamic call made by a function's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DynamicCall {
    /// The callee was loaded from this offset of some vtable pointer, and the call has this
    /// signature: every slot with the same key may be called.
    Slot(SlotKey),
    /// The callee could not be traced to a load at a known offset: every slot whose function
    /// has this signature may be called, at any offset.
    AnySlotWithSignature(u32),
}

/// Index of a conditional slot, in the order the producer added it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotId(pub(crate) u32);

impl SlotId {
    /// Position of the slot in insertion order.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A method slot of a vtable whose edge to its function depends on dynamic calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSlot {
    pub vtable: SymbolId,
    pub key: SlotKey,
    pub function: SymbolId,
}

/// A slot of a reachable vtable that no reachable dynamic call can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TrappedSlot {
    pub slot: SlotId,
    pub vtable: SymbolId,
    pub offset: u64,
    /// The function the slot held before it was trapped.
    pub function: SymbolId,
}

/// Outcome of method-level shaking on a frozen graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodShaking {
    /// Slots of reachable vtables that stay dead, sorted by slot id.
    pub trapped: Vec<TrappedSlot>,
    /// Symbols that would be reachable if every slot of every reachable vtable were live, but
    /// are not: what method shaking removed. Sorted by id, which is name order.
    pub removed: Vec<SymbolId>,
    /// The symbol every trapped slot now points at, when the producer named one.
    pub trap: Option<SymbolId>,
}

/// Which slots the fixpoint made live.
pub(crate) struct SlotResolution {
    pub live: Vec<bool>,
    pub reached: Vec<bool>,
}

/// Computes the live slots. `adjacency[i]` lists the unconditional targets of symbol `i`,
/// `roots` the root symbols, `calls[i]` the dynamic calls of symbol `i`.
pub(crate) fn resolve_slots(
    adjacency: &[Vec<u32>],
    roots: &[u32],
    slots: &[MethodSlot],
    calls: &[Vec<DynamicCall>],
) -> SlotResolution {
    let count = adjacency.len();
    let mut slots_of_vtable: Vec<Vec<u32>> = vec![Vec::new(); count];
    for (index, slot) in slots.iter().enumerate() {
        slots_of_vtable[slot.vtable.index()].push(index as u32);
    }

    let mut state = Fixpoint {
        reached: vec![false; count],
        queue: VecDeque::new(),
        live: vec![false; slots.len()],
        demanded_keys: HashSet::new(),
        demanded_signatures: HashSet::new(),
        pending_by_key: HashMap::new(),
        pending_by_signature: HashMap::new(),
    };
    for root in roots {
        state.reach(*root);
    }
    while let Some(symbol) = state.queue.pop_front() {
        let index = symbol as usize;
        for target in &adjacency[index] {
            state.reach(*target);
        }
        for slot_index in &slots_of_vtable[index] {
            state.offer_slot(*slot_index, slots);
        }
        for call in &calls[index] {
            state.demand(*call, slots);
        }
    }
    SlotResolution {
        live: state.live,
        reached: state.reached,
    }
}

struct Fixpoint {
    reached: Vec<bool>,
    queue: VecDeque<u32>,
    live: Vec<bool>,
    demanded_keys: HashSet<SlotKey>,
    demanded_signatures: HashSet<u32>,
    /// Slots of reached vtables that no call has demanded yet.
    pending_by_key: HashMap<SlotKey, Vec<u32>>,
    pending_by_signature: HashMap<u32, Vec<u32>>,
}

impl Fixpoint {
    fn reach(&mut self, symbol: u32) {
        let Some(reached) = self.reached.get_mut(symbol as usize) else {
            return;
        };
        if !*reached {
            *reached = true;
            self.queue.push_back(symbol);
        }
    }

    /// Called once per slot, when its vtable becomes reachable.
    fn offer_slot(&mut self, slot_index: u32, slots: &[MethodSlot]) {
        let slot = slots[slot_index as usize];
        if self.demanded_keys.contains(&slot.key)
            || self.demanded_signatures.contains(&slot.key.signature)
        {
            self.activate(slot_index, slots);
            return;
        }
        self.pending_by_key
            .entry(slot.key)
            .or_default()
            .push(slot_index);
        self.pending_by_signature
            .entry(slot.key.signature)
            .or_default()
            .push(slot_index);
    }

    fn demand(&mut self, call: DynamicCall, slots: &[MethodSlot]) {
        let waiting = match call {
            DynamicCall::Slot(key) => {
                if !self.demanded_keys.insert(key) {
                    return;
                }
                self.pending_by_key.remove(&key)
            }
            DynamicCall::AnySlotWithSignature(signature) => {
                if !self.demanded_signatures.insert(signature) {
                    return;
                }
                self.pending_by_signature.remove(&signature)
            }
        };
        for slot_index in waiting.unwrap_or_default() {
            self.activate(slot_index, slots);
        }
    }

    fn activate(&mut self, slot_index: u32, slots: &[MethodSlot]) {
        let live = &mut self.live[slot_index as usize];
        if *live {
            return;
        }
        *live = true;
        self.reach(slots[slot_index as usize].function.0);
    }
}

/// Symbols reachable when every slot of every reached vtable counts as live, starting from the
/// result of the fixpoint.
pub(crate) fn reachable_with_all_slots(
    adjacency: &[Vec<u32>],
    roots: &[u32],
    slots: &[MethodSlot],
) -> Vec<bool> {
    let mut all_slots: Vec<Vec<u32>> = vec![Vec::new(); adjacency.len()];
    for slot in slots {
        all_slots[slot.vtable.index()].push(slot.function.0);
    }
    let mut reached = vec![false; adjacency.len()];
    let mut queue: VecDeque<u32> = VecDeque::new();
    for root in roots {
        if !reached[*root as usize] {
            reached[*root as usize] = true;
            queue.push_back(*root);
        }
    }
    while let Some(symbol) = queue.pop_front() {
        let index = symbol as usize;
        for target in adjacency[index].iter().chain(&all_slots[index]) {
            if !reached[*target as usize] {
                reached[*target as usize] = true;
                queue.push_back(*target);
            }
        }
    }
    reached
}
