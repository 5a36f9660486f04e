//! What the list tests (`list_model.rs`, `list_pops.rs`) share: a random
//! end, and the model's pushes and pops on a `VecDeque`.

use ferry_store::lists::ListEnd;
use rand::Rng;
use std::collections::VecDeque;

pub fn end(rng: &mut impl Rng) -> ListEnd {
    if rng.gen_bool(0.5) {
        ListEnd::Head
    } else {
        ListEnd::Tail
    }
}

pub fn push(list: &mut VecDeque<Vec<u8>>, at: ListEnd, v: Vec<u8>) {
    match at {
        ListEnd::Head => list.push_front(v),
        ListEnd::Tail => list.push_back(v),
    }
}

pub fn pop(list: &mut VecDeque<Vec<u8>>, at: ListEnd) -> Option<Vec<u8>> {
    match at {
        ListEnd::Head => list.pop_front(),
        ListEnd::Tail => list.pop_back(),
    }
}
