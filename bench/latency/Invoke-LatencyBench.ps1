<#
.SYNOPSIS
    guest-ping round trips, p50/p99, one at a time from a blocking minimal client: directly on
    each agent's socket and through the relay; the relay's overhead is the difference of the
    medians. Ceiling: the same request and reply sizes bounced by an echo thread on a unix
    socket. Returns rows and a detail section for bench/Invoke-Bench.ps1.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/latency/Invoke-LatencyBench.ps1 -AgentPath out/bench/aot/qemuguest-agent
#>
param(
    [Parameter(Mandatory)] [string] $AgentPath,
    [string] $Configuration = 'Release',
    [switch] $Quick,
    # Another relay build (e.g. the previous commit's, kept aside) to compare in the same session.
    [string] $RelayPath
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot '../BenchCommon.psm1') -Force
$tool = Get-BenchToolPath $Configuration
$relayPath = if ($RelayPath) { $RelayPath } else { Get-RelayPath $Configuration }
# Repetitions of the whole probe; each probe is $count pings after $warmup. The median of the
# repetitions' p50 (and of their p99) is reported, because a loaded machine adds outliers.
$count = if ($Quick) { 200 } else { 5000 }
$warmup = if ($Quick) { 20 } else { 500 }
$reps = if ($Quick) { 1 } else { 3 }
$probeArgs = @('--count', $count, '--warmup', $warmup)

$m = @{}
function Measure-Ping([string] $Key, [string[]] $ProbeArguments) {
    $runs = for ($r = 0; $r -lt $reps; $r++) { Invoke-BenchProbe $tool $ProbeArguments }
    $m[$Key] = [pscustomobject]@{ P50 = Get-Median @($runs.p50_us); P99 = Get-Median @($runs.p99_us); Min = ($runs.min_us | Measure-Object -Minimum).Minimum }
    Write-Host ('  {0,-22} p50 {1,8:N1} µs   p99 {2,8:N1} µs' -f $Key, $m[$Key].P50, $m[$Key].P99)
}

Measure-Ping 'ceiling' (@('pingceiling') + $probeArgs)
foreach ($kind in 'Ours', 'Stock') {
    $agent = Start-BenchAgent -Kind $kind -AgentPath $AgentPath
    $relay = $null
    try {
        Measure-Ping "$kind direct" (@('ping', '--socket', $agent.Socket) + $probeArgs)
        # The relay keeps its own connection to the agent; the direct client above has closed
        # its connection, so the agent serves one client at a time as it does in a VM.
        $relay = Start-BenchRelay -RelayPath $relayPath -Vms @{ 'bench' = $agent.Socket }
        Measure-Ping "$kind relay" (@('ping', '--socket', (Join-Path $relay.RuntimeDirectory 'bench.sock')) + $probeArgs)
    }
    finally { $relay | Stop-BenchProcess; $agent | Stop-BenchProcess }
}

$agentNote = if ($AgentPath -like '*.dll') { 'JIT build (quick run)' } else { 'NativeAOT' }
$cmd = "dotnet pwsh -File bench/latency/Invoke-LatencyBench.ps1 -AgentPath $(if ($AgentPath -like '*.dll') { 'src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll' } else { 'out/bench/aot/qemuguest-agent' })$(if ($Quick) { ' -Quick' })"
$rows = @(
    New-BenchRow -Area latency -What 'guest-ping round trip p50, direct, µs' -Unit 'µs' -Better lower -Ours $m['Ours direct'].P50 -Stock $m['Stock direct'].P50 -Ceiling $m['ceiling'].P50 -Command $cmd
    New-BenchRow -Area latency -What 'guest-ping round trip p99, direct, µs' -Unit 'µs' -Better lower -Ours $m['Ours direct'].P99 -Stock $m['Stock direct'].P99 -Ceiling $m['ceiling'].P99 -Command $cmd
    New-BenchRow -Area latency -What 'guest-ping round trip p50, through the relay, µs' -Unit 'µs' -Better lower -Ours $m['Ours relay'].P50 -Stock $m['Stock relay'].P50 -Ceiling $m['ceiling'].P50 -Command $cmd
    New-BenchRow -Area latency -What 'guest-ping round trip p99, through the relay, µs' -Unit 'µs' -Better lower -Ours $m['Ours relay'].P99 -Stock $m['Stock relay'].P99 -Ceiling $m['ceiling'].P99 -Command $cmd
    New-BenchRow -Area latency -What 'relay overhead (p50 through relay − p50 direct), µs' -Unit 'µs' -Better lower -Ours ($m['Ours relay'].P50 - $m['Ours direct'].P50) -Stock ($m['Stock relay'].P50 - $m['Stock direct'].P50) -Command $cmd
)
$detail = @(
    '### Latency'
    ''
    "Client: ``QemuGuest.Benchmarks.dll ping --socket S --count $count --warmup $warmup`` (blocking unix socket, one guest-ping at"
    "a time after 0xFF + guest-sync-delimited); $reps repetition(s), medians of their p50 and p99. Relay: ``src/QemuGuest.Relay``"
    "(JIT, default limits, one VM) in front of the same agent. Ceiling: ``pingceiling`` (echo thread, same sizes). Our agent: $agentNote."
    ''
    '| path | p50 µs | p99 µs | min µs |'
    '|---|---:|---:|---:|'
    foreach ($k in 'ceiling', 'Ours direct', 'Ours relay', 'Stock direct', 'Stock relay') {
        $name = @{ 'ceiling' = 'unix socket echo (ceiling)'; 'Ours direct' = 'our agent, direct'; 'Ours relay' = 'our agent, through the relay'; 'Stock direct' = 'qemu-ga, direct'; 'Stock relay' = 'qemu-ga, through the relay' }[$k]
        "| $name | $(Format-BenchNumber $m[$k].P50) | $(Format-BenchNumber $m[$k].P99) | $(Format-BenchNumber $m[$k].Min) |"
    }
) -join "`n"
[pscustomobject]@{ Rows = $rows; Detail = $detail }
