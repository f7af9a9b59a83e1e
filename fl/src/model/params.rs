//! Parameters across the burn boundary: one flat `Vec<f32>` in the order of
//! [`ModelSpec::param_shapes`](super::ModelSpec::param_shapes).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

use super::network::Network;

struct Flatten {
    out: Vec<f32>,
}

impl ModuleVisitor for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = param.val().into_data().convert::<f32>();
        self.out
            .extend(values.as_slice::<f32>().expect("converted to f32 above"));
    }
}

struct Unflatten<'a> {
    src: &'a [f32],
    pos: usize,
}

impl ModuleMapper for Unflatten<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (shape, device) = (param.lazy_shape(), param.lazy_device());
        let n = shape.num_elements();
        let values = self.src[self.pos..self.pos + n].to_vec();
        self.pos += n;
        let tensor = Tensor::<D>::from_data(TensorData::new(values, shape), &device);
        let id = param.id;
        param.transform_for_load(tensor, id)
    }
}

impl Network {
    /// The parameters as one flat vector.
    pub fn to_flat(&self) -> Vec<f32> {
        let mut visitor = Flatten {
            out: Vec::with_capacity(self.num_params()),
        };
        self.visit(&mut visitor);
        visitor.out
    }

    /// Replaces every parameter from `flat`, which must hold exactly `num_params()` values
    /// (callers check with [`ModelSpec::param_count`](super::ModelSpec::param_count)).
    pub fn load_flat(self, flat: &[f32]) -> Self {
        debug_assert_eq!(flat.len(), self.num_params());
        self.map(&mut Unflatten { src: flat, pos: 0 })
    }
}
