<#
.SYNOPSIS
    The module in a fresh pwsh: Import-Module time, then the first command (New-VMGuestSession +
    Get-VMGuestOSInfo, which connects, syncs and runs guest-get-osinfo), against our agent and
    against Debian's qemu-ga, plus the whole fresh process. Returns rows and a detail section
    for bench/Invoke-Bench.ps1.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/module/Invoke-ModuleBench.ps1 -ModulePath out/QemuGuest -AgentPath out/bench/aot/qemuguest-agent
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $AgentPath,
    [switch] $Quick
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot '../BenchCommon.psm1') -Force
$runs = if ($Quick) { 1 } else { 7 }
$module = (Resolve-Path $ModulePath).Path
# Under 'dotnet pwsh' this process is dotnet itself; the tool ships its own apphost.
$pwsh = Join-Path $PSHOME 'pwsh'

# Times are taken inside the child with a stopwatch, so pwsh's own start-up is not counted in
# them; the child's whole life (start-up included) is measured from here.
$child = @'
param($ModulePath, $ConnectionString)
$ErrorActionPreference = 'Stop'
$sw = [Diagnostics.Stopwatch]::StartNew()
Import-Module $ModulePath
$import = $sw.Elapsed.TotalMilliseconds
$sw.Restart()
$s = New-VMGuestSession -ConnectionString $ConnectionString
$null = Get-VMGuestOSInfo -Session $s
$first = $sw.Elapsed.TotalMilliseconds
$sw.Restart()
$null = Get-VMGuestOSInfo -Session $s
$second = $sw.Elapsed.TotalMilliseconds
'{0} {1} {2}' -f $import, $first, $second
'@
$script = Join-Path ([IO.Path]::GetTempPath()) ('qg-bench-module-' + [guid]::NewGuid().ToString('n').Substring(0, 8) + '.ps1')
Set-Content -Path $script -Value $child

$m = @{}
try {
    foreach ($kind in 'Ours', 'Stock') {
        $agent = Start-BenchAgent -Kind $kind -AgentPath $AgentPath
        try {
            $samples = for ($r = 0; $r -lt $runs; $r++) {
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $out = & $pwsh -NoProfile -NonInteractive -File $script $module $agent.ConnectionString
                if ($LASTEXITCODE -ne 0) { throw "fresh pwsh failed ($LASTEXITCODE): $out" }
                $whole = $clock.Elapsed.TotalMilliseconds
                $i, $f, $s = ($out | Select-Object -Last 1) -split ' ' | ForEach-Object { [double]::Parse($_, [Globalization.CultureInfo]::InvariantCulture) }
                [pscustomobject]@{ Import = $i; First = $f; Second = $s; Whole = $whole }
            }
            $m[$kind] = [pscustomobject]@{
                Import = Get-Median @($samples.Import); First = Get-Median @($samples.First)
                Second = Get-Median @($samples.Second); Whole = Get-Median @($samples.Whole)
            }
            Write-Host ('  {0,-6} import {1,7:N1} ms  first command {2,7:N1} ms  second {3,6:N1} ms  whole pwsh {4,7:N0} ms' -f $kind, $m[$kind].Import, $m[$kind].First, $m[$kind].Second, $m[$kind].Whole)
        }
        finally { $agent | Stop-BenchProcess }
    }
    # The floor for "whole process": a fresh pwsh that does nothing.
    $bare = Get-Median @(for ($r = 0; $r -lt $runs; $r++) {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            & $pwsh -NoProfile -NonInteractive -Command 'exit 0'
            $clock.Elapsed.TotalMilliseconds
        })
}
finally { Remove-Item $script -ErrorAction SilentlyContinue }

$cmd = "dotnet pwsh -File bench/module/Invoke-ModuleBench.ps1 -ModulePath out/QemuGuest -AgentPath $(if ($AgentPath -like '*.dll') { 'src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll' } else { 'out/bench/aot/qemuguest-agent' })$(if ($Quick) { ' -Quick' })"
$n = if ($runs -gt 1) { ", median of $runs" } else { '' }
$rows = @(
    New-BenchRow -Area module -What "Import-Module QemuGuest in a fresh pwsh, ms$n (no stock module exists)" -Unit 'ms' -Better lower -Ours $m['Ours'].Import -Command $cmd
    New-BenchRow -Area module -What "first command (New-VMGuestSession + Get-VMGuestOSInfo) after import, ms${n}: our agent vs qemu-ga" -Unit 'ms' -Better lower -Ours $m['Ours'].First -Stock $m['Stock'].First -Command $cmd
    New-BenchRow -Area module -What "fresh pwsh: start, import, first command, exit, ms${n}: our agent vs qemu-ga; ceiling = bare pwsh" -Unit 'ms' -Better lower -Ours $m['Ours'].Whole -Stock $m['Stock'].Whole -Ceiling $bare -Command $cmd
)
$detail = @(
    '### Module'
    ''
    "Each run is a fresh ``pwsh -NoProfile -NonInteractive -File`` that imports ``out/QemuGuest`` and runs New-VMGuestSession +"
    'Get-VMGuestOSInfo twice (stopwatch inside the child); medians:'
    ''
    '| agent | Import-Module ms | first command ms | second command ms | whole pwsh process ms |'
    '|---|---:|---:|---:|---:|'
    "| our agent | $(Format-BenchNumber $m['Ours'].Import) | $(Format-BenchNumber $m['Ours'].First) | $(Format-BenchNumber $m['Ours'].Second) | $(Format-BenchNumber $m['Ours'].Whole) |"
    "| qemu-ga | $(Format-BenchNumber $m['Stock'].Import) | $(Format-BenchNumber $m['Stock'].First) | $(Format-BenchNumber $m['Stock'].Second) | $(Format-BenchNumber $m['Stock'].Whole) |"
    "| (bare ``pwsh -Command 'exit 0'``) | | | | $(Format-BenchNumber $bare) |"
) -join "`n"
[pscustomobject]@{ Rows = $rows; Detail = $detail }
