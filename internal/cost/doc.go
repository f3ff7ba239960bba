// Package cost models what a Slipway stage would cost on AWS: dated,
// versioned price tables and a pure estimator over a stage's config and
// a month of traffic, with a comparison of the four architecture ×
// endpoint combinations and their break-even request volumes.
//
// It owns the price figures, the arithmetic and the recommendation. It
// does no I/O beyond reading its embedded tables, never fetches prices,
// and knows nothing of HTTP, the store or metering: callers build the
// Profile (internal/traffic does, from flags or metered usage).
//
// # Price tables
//
// prices/<region>-<yyyy-mm>.json, embedded: us-east-1 as of July 2021
// (TinyStacks' stated basis) and as of January 2025 (written from the
// AWS pricing pages as remembered at that date; LoadTable("") picks the
// newest). Every price carries its unit, source page and date; the
// loader refuses a table missing any of them or any price the estimator
// reads. Rules that changed between the two: data transfer out had 1 GB
// a month free until 2021-12-01, 100 GB since; Lambda's /tmp was a fixed,
// free 512 MB in 2021 (configurable and billed above 512 MB since 2022);
// Lambda duration is tiered above 6B GB-s a month in the newer table.
//
// # The model (each estimate lists what it assumed)
//
//   - A month is 730 hours (AWS's convention); 1 GB is 2^30 bytes.
//   - Container: Fargate for the stage's vCPU and memory (or ECS on EC2,
//     one instance per replica, when Stage.InstanceType is set, as
//     TinyStacks ran it). Instances on average = max(min, ⌈mean
//     concurrency / (20 per vCPU × vCPU)⌉), at most max; mean concurrency
//     is requests/s × duration (Little's law) unless given. One NAT
//     gateway (one AZ), since tasks sit in private subnets as in
//     TinyStacks' VPC; it carries the logs and one image pull per
//     instance a month.
//   - Serverless: Lambda, x86; requests; duration billed per ms rounded
//     up (capped at the timeout), GB-s = requests × duration × memory;
//     the always-free 1M requests and 400,000 GB-s. min_instances is
//     provisioned concurrency: its GB-s for the whole month, and the
//     share of invocations it serves (min(1, min / mean concurrency)) at
//     its lower duration price. No VPC, so no NAT (TinyStacks' default).
//   - Gateway: API Gateway HTTP API (TinyStacks used v2), per request in
//     512 KB steps, $0.90/M past 300M. Balancer: one ALB, its hours plus
//     LCU-hours on the largest of new connections/s ÷ 25, active
//     connections ÷ 3,000, GB/h processed ÷ 1 (÷ 0.4 for Lambda
//     targets), rule evaluations/s ÷ 1,000 (requests/s × the listener
//     rules past the free 10; a stage has the default rule and one per
//     route). Without connection figures, one new connection per request.
//   - Both: CloudWatch Logs at 500 bytes a request (5 GB ingest free,
//     a month's logs stored), one 0.5 GB image in ECR, every response
//     out to the internet. 12-month new-account free tiers are not
//     applied; databases, public IPv4 addresses and an EC2 instance's
//     EBS root volume are not priced.
//
// TinyStacks quoted about $46 a month for a dev stack without line
// items. A minimal container dev stack (one t3.micro, API Gateway, one
// NAT gateway, 100k requests) comes to $40.62 here, $32.85 of it the NAT
// gateway; TestMinimalDevStack itemizes it and discusses the gap.
//
// Compare prices all four combinations (the other architecture with the
// stage's memory and defaults; containers without a maximum so every
// option serves the load) and finds, for each pair, the first volume
// between 1k and 10B requests a month where their totals cross.
package cost
