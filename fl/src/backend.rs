//! Where burn runs: the CPU back ends that are always built, and wgpu behind the `wgpu` feature.
//!
//! burn 0.22 picks its back end at run time through a [`Device`]; everything in this crate takes a
//! [`BackendKind`] and asks it for the device, so model and training code is written once.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// A burn back end this build can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn's pure-Rust CPU back end (the fastest CPU back end measured here; the default).
    #[default]
    Flex,
    /// The NdArray CPU back end.
    Ndarray,
    /// wgpu (Vulkan, Metal, DX12 or WebGPU); needs the `wgpu` cargo feature and an adapter.
    Wgpu,
}

/// The back end asked for is not part of this build.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendError {
    /// The name is not a back end.
    #[error("unknown backend '{0}': expected flex, ndarray or wgpu")]
    Unknown(String),
    /// wgpu asked for, but the binary was built without it.
    #[error("backend wgpu is not in this build: rebuild with `--features wgpu`")]
    WgpuNotBuilt,
}

impl BackendKind {
    /// The burn device for this back end (plain, without autodiff).
    pub fn device(self) -> Result<Device, BackendError> {
        match self {
            BackendKind::Flex => Ok(Device::flex()),
            #[allow(deprecated)]
            // NdArray is kept as a comparison point and for users who ask for it
            BackendKind::Ndarray => Ok(Device::ndarray()),
            BackendKind::Wgpu => wgpu_device(),
        }
    }

    /// Whether this back end computes on the CPU (so that clients may train in parallel threads).
    pub fn is_cpu(self) -> bool {
        !matches!(self, BackendKind::Wgpu)
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, BackendError> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, BackendError> {
    Err(BackendError::WgpuNotBuilt)
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
            BackendKind::Wgpu => "wgpu",
        })
    }
}

impl FromStr for BackendKind {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "flex" => Ok(BackendKind::Flex),
            "ndarray" => Ok(BackendKind::Ndarray),
            "wgpu" => Ok(BackendKind::Wgpu),
            other => Err(BackendError::Unknown(other.to_string())),
        }
    }
}
