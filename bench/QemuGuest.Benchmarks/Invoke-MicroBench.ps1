<#
.SYNOPSIS
    Micro-benchmarks (BenchmarkDotNet, in-process, with allocations): the protocol's message
    reader and writer, the client's base64 marshalling of a 60 KiB block, and the agent's request
    path (RequestProcessor + generated dispatcher). Returns rows and a detail section for
    bench/Invoke-Bench.ps1.
#>
param(
    [string] $Configuration = 'Release',
    [switch] $Quick
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot '../BenchCommon.psm1') -Force
$root = Resolve-Path (Join-Path $PSScriptRoot '../..')
$tool = Get-BenchToolPath $Configuration
$artifacts = Join-Path $root 'out/bench/micro'
if (Test-Path $artifacts) { Remove-Item -Recurse -Force $artifacts }
# ShortRun (3 iterations) keeps the whole set to a few minutes on 2 shared cores; a quick run
# only proves every benchmark runs (Dry: one iteration, numbers meaningless).
$job = if ($Quick) { 'dry' } else { 'short' }
# In-process: building BenchmarkDotNet's per-benchmark boilerplate project timed out on the
# shared machine.
# Not '*': PowerShell expands a bare '*' argument of a native command to file names on Unix.
$toolArgs = @('--filter', 'QemuGuest.Benchmarks.*', '--job', $job, '--inProcess', '--memory', '--artifacts', $artifacts)
& dotnet $tool @toolArgs | Out-Host
if ($LASTEXITCODE -ne 0) { throw "micro-benchmarks failed ($LASTEXITCODE)" }
$command = "dotnet build bench/QemuGuest.Benchmarks -c $Configuration; dotnet bench/QemuGuest.Benchmarks/bin/$Configuration/net10.0/QemuGuest.Benchmarks.dll $($toolArgs[0..($toolArgs.Count - 3)] -join ' ') --artifacts out/bench/micro"

$rows = [Collections.Generic.List[object]]::new()
$detail = [Collections.Generic.List[string]]::new()
$detail.Add('### Micro-benchmarks')
$detail.Add('')
$detail.Add("BenchmarkDotNet, job ``$job``, in-process, ``--memory``. Classes: reader/writer (``ProtocolBenchmarks.cs``), client base64 marshalling and the agent's dispatcher (``MarshallingBenchmarks.cs``).$(if ($Quick) { ' Quick run: one iteration, the figures mean nothing.' })")
foreach ($csv in Get-ChildItem (Join-Path $artifacts 'results') -Filter '*-report.csv' | Sort-Object Name) {
    $class = $csv.BaseName -replace '-report$', '' -replace '^QemuGuest\.Benchmarks\.', ''
    foreach ($r in Import-Csv $csv.FullName) {
        $rows.Add((New-BenchRow -Area micro -What "$class · $($r.Method -replace "^'|'$", '') (mean; allocated per op)" -Unit 'text' `
                    -Ours "$($r.Mean); $($r.Allocated)" -Command $command))
    }
    $md = Join-Path $csv.DirectoryName ($csv.BaseName + '-github.md')
    if (Test-Path $md) {
        $detail.Add('')
        $detail.Add("#### $class")
        $detail.Add('')
        foreach ($line in (Get-Content $md | Where-Object { $_ -notmatch '^```' })) { $detail.Add($line) }
    }
}
if ($rows.Count -eq 0) { throw "no BenchmarkDotNet reports in $artifacts/results" }
[pscustomobject]@{ Rows = $rows.ToArray(); Detail = ($detail -join "`n") }
