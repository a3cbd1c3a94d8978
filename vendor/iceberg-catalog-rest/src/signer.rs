// Licensed to the Apache Software Foundation (ASF) under one
// or more contributor license agreements.  See the NOTICE file
// distributed with this work for additional information
// regarding copyright ownership.  The ASF licenses this file
// to you under the Apache License, Version 2.0 (the
// "License"); you may not use this file except in compliance
// with the License.  You may obtain a copy of the License at
//
//   http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing,
// software distributed under the License is distributed on an
// "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY
// KIND, either express or implied.  See the License for the
// specific language governing permissions and limitations
// under the License.


//! A hook to sign every request to the catalog, for catalogs that authenticate requests by
//! their signature (AWS SigV4, as S3 Tables' and Glue's Iceberg REST endpoints do) rather
//! than by a bearer token.

use std::fmt::Debug;

use async_trait::async_trait;
use iceberg::Result;
use reqwest::Request;

/// Signs a request to the REST catalog just before it is sent.
///
/// The signer sees the request as it goes out: its method, URL, every header (the catalog's
/// extra headers and any bearer token included) and its body, and may add or replace headers
/// and query parameters. It is called once per request, so a signer that loads credentials
/// from a refreshing source sees fresh ones.
#[async_trait]
pub trait HttpRequestSigner: Debug + Send + Sync {
    /// Signs `request` in place.
    async fn sign(&self, request: &mut Request) -> Result<()>;
}
