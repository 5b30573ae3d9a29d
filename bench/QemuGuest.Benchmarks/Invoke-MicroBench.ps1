<#
.SYNOPSIS
    Protocol micro-benchmarks (BenchmarkDotNet): reader/writer throughput and allocations.
    Prints one markdown section for bench/RESULTS.md.
#>
param([string] $Configuration = 'Release')
$ErrorActionPreference = 'Stop'
$root = Resolve-Path (Join-Path $PSScriptRoot '../..')
$artifacts = Join-Path $root 'out/bench/micro'
if (Test-Path $artifacts) { Remove-Item -Recurse -Force $artifacts }
$command = "dotnet run -c $Configuration --project bench/QemuGuest.Benchmarks -- --filter '*' --job short --inProcess --memory --artifacts out/bench/micro"
Push-Location $root
try {
    & dotnet run -c $Configuration --project (Join-Path $PSScriptRoot 'QemuGuest.Benchmarks.csproj') -- --filter '*' --job short --inProcess --memory --artifacts $artifacts | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "micro-benchmarks failed ($LASTEXITCODE)" }
}
finally { Pop-Location }

$lines = @('## Protocol micro-benchmarks', '', "Command: ``$command``", '')
foreach ($md in Get-ChildItem (Join-Path $artifacts 'results') -Filter '*-report-github.md' | Sort-Object Name) {
    $lines += "### $($md.BaseName -replace '-report-github$', '' -replace '^QemuGuest\.Benchmarks\.', '')"
    $lines += ''
    $lines += (Get-Content $md.FullName | Where-Object { $_ -notmatch '^```' })
    $lines += ''
}
$lines -join "`n"
