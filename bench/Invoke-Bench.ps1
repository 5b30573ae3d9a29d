<#
.SYNOPSIS
    Runs the benchmarks and writes bench/RESULTS.md: one table (what | ours | stock qemu-ga |
    ratio | ceiling | command), the machine facts, and each area's detail.
.DESCRIPTION
    Called by `build.ps1 Bench`. An area is a script bench/<folder>/Invoke-<Name>Bench.ps1; it
    gets the parameters it declares (-Configuration, -ModulePath, -AgentPath, -Quick) and
    returns an object with Rows (New-BenchRow, bench/BenchCommon.psm1) and Detail (markdown).
    Areas that write their own file instead (bench/vm-transfer.md from bench/vm/) are run when
    named and linked either way. Every comparison is measured in this one run; timings are
    never asserted anywhere.
.PARAMETER Area
    Areas to run, by folder or script name (wildcards): transfer, latency, agent, module,
    scale, micro, psdirect, vm. '*' means every area except the opt-in ones (vm: needs a QEMU VM), which
    run only when named.
.PARAMETER Quick
    Each area once with small sizes and few repetitions (seconds, not minutes): proves the
    harness works. The figures mean nothing. Uses the JIT build of our agent unless -AgentPath.
.PARAMETER OutFile
    Default: bench/RESULTS.md for a full run, out/bench/RESULTS.md for a quick or partial run
    (so that they never overwrite the committed results).
#>
param(
    [ValidateSet('Debug', 'Release')] [string] $Configuration = 'Release',
    # The laid-out module (build.ps1 Package) for benchmarks that drive the cmdlets.
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/QemuGuest'),
    [string[]] $Area = @('*'),
    [string[]] $ExcludeArea = @(),
    [switch] $Quick,
    [string] $OutFile,
    # Our agent for every area: default the NativeAOT publish made here (full run) or the JIT
    # build (quick run).
    [string] $AgentPath,
    # Skip building the bench tool and publishing the agent (they must exist).
    [switch] $NoBuild
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$ProgressPreference = 'SilentlyContinue'

# `pwsh -File` hands a list over as one comma-separated string.
$Area = @($Area -split ',' | ForEach-Object Trim | Where-Object { $_ })
$ExcludeArea = @($ExcludeArea -split ',' | ForEach-Object Trim | Where-Object { $_ })
$benchRoot = $PSScriptRoot
$repo = (Resolve-Path (Join-Path $benchRoot '..')).Path
Import-Module (Join-Path $benchRoot 'BenchCommon.psm1') -Force
$OptInAreas = @('vm', 'vmtransfer')
$started = [DateTime]::UtcNow
$loadBefore = (Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3

# Which areas: every bench/<folder>/Invoke-<Name>Bench.ps1, named by folder and by <Name>.
$all = Get-ChildItem -Path $benchRoot -Directory | ForEach-Object { Get-ChildItem -Path $_.FullName -Filter 'Invoke-*Bench.ps1' -File } |
    Sort-Object FullName | ForEach-Object {
        [pscustomobject]@{ Script = $_; Folder = $_.Directory.Name.ToLowerInvariant(); Name = ($_.BaseName -replace '^Invoke-|Bench$', '').ToLowerInvariant() }
    }
function Test-AreaMatch($a, [string[]] $Patterns, [switch] $Explicit) {
    foreach ($p in $Patterns) {
        if ($Explicit -and [Management.Automation.WildcardPattern]::ContainsWildcardCharacters($p)) { continue }
        if ($a.Folder -like $p -or $a.Name -like $p) { return $true }
    }
    $false
}
$selected = @($all | Where-Object {
        $optIn = $_.Folder -in $OptInAreas -or $_.Name -in $OptInAreas
        $named = if ($optIn) { Test-AreaMatch $_ $Area -Explicit } else { Test-AreaMatch $_ $Area }
        $named -and -not (Test-AreaMatch $_ $ExcludeArea)
    })
if ($selected.Count -eq 0) {
    throw "no benchmark area matches -Area $($Area -join ',') (known: $(($all | ForEach-Object Name) -join ', '); opt-in: $($OptInAreas -join ', '))"
}
$full = -not $Quick -and @($all | Where-Object { $_.Folder -notin $OptInAreas -and $_.Name -notin $OptInAreas -and $_ -notin $selected }).Count -eq 0
if (-not $OutFile) { $OutFile = if ($full) { Join-Path $benchRoot 'RESULTS.md' } else { Join-Path $repo 'out/bench/RESULTS.md' } }

# What every area shares: the bench tool (socket probes + BenchmarkDotNet) and our agent.
if (-not $NoBuild) {
    Write-Host '==> bench: building bench/QemuGuest.Benchmarks' -ForegroundColor Cyan
    & dotnet build (Join-Path $benchRoot 'QemuGuest.Benchmarks/QemuGuest.Benchmarks.csproj') -c $Configuration --nologo -v q -clp:ErrorsOnly | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "dotnet build bench/QemuGuest.Benchmarks failed ($LASTEXITCODE)" }
}
if (-not $AgentPath) {
    if ($Quick) {
        $AgentPath = Join-Path $repo "src/QemuGuest.Agent/bin/$Configuration/net10.0/qemuguest-agent.dll"
    }
    else {
        $aot = Join-Path $repo 'out/bench/aot'
        if (-not $NoBuild) {
            Write-Host '==> bench: publishing our agent (NativeAOT) to out/bench/aot' -ForegroundColor Cyan
            & dotnet publish (Join-Path $repo 'src/QemuGuest.Agent') -c Release -r linux-x64 -o $aot --nologo -v q -clp:ErrorsOnly | Out-Host
            if ($LASTEXITCODE -ne 0) { throw "dotnet publish src/QemuGuest.Agent (NativeAOT) failed ($LASTEXITCODE)" }
        }
        $AgentPath = Join-Path $aot 'qemuguest-agent'
    }
}
if (-not (Test-Path $AgentPath)) { throw "our agent is not at $AgentPath (build it, or pass -AgentPath)" }
$AgentPath = (Resolve-Path $AgentPath).Path

$rows = [Collections.Generic.List[object]]::new()
$sections = [Collections.Generic.List[string]]::new()
$failures = [Collections.Generic.List[string]]::new()
$timings = [Collections.Generic.List[string]]::new()
foreach ($a in $selected) {
    $rel = [IO.Path]::GetRelativePath($benchRoot, $a.Script.FullName)
    Write-Host "==> bench: $rel" -ForegroundColor Cyan
    $parseErrors = $null
    $null = [Management.Automation.Language.Parser]::ParseFile($a.Script.FullName, [ref]$null, [ref]$parseErrors)
    if ($parseErrors) { throw "$rel does not parse: line $($parseErrors[0].Extent.StartLineNumber): $($parseErrors[0].Message)" }
    $declared = (Get-Command $a.Script.FullName).Parameters
    $arguments = @{}
    if ($declared.ContainsKey('Configuration')) { $arguments.Configuration = $Configuration }
    if ($declared.ContainsKey('ModulePath')) { $arguments.ModulePath = (Resolve-Path $ModulePath).Path }
    if ($declared.ContainsKey('AgentPath')) { $arguments.AgentPath = $AgentPath }
    if ($declared.ContainsKey('Quick')) { $arguments.Quick = [bool]$Quick }
    $clock = [Diagnostics.Stopwatch]::StartNew()
    try {
        $result = & $a.Script.FullName @arguments
        $structured = @($result | Where-Object { $_ -and $_.PSObject.Properties['Rows'] -and $_.PSObject.Properties['Detail'] })
        if ($structured.Count) {
            foreach ($r in $structured) { $rows.AddRange([object[]]@($r.Rows)); $sections.Add($r.Detail.TrimEnd()) }
        }
        else {
            $text = ($result | Out-String).TrimEnd()
            if ($text) { $sections.Add("### $($a.Name)`n`n" + ($text -replace '(?m)^#{1,2} ', '#### ')) }
        }
    }
    catch {
        $failures.Add("$rel`: $($_.Exception.Message)")
        $sections.Add("### $($a.Name)`n`n**Failed in this run:** $($_.Exception.Message)")
        Write-Host "bench area $rel failed: $($_.Exception.Message)" -ForegroundColor Red
    }
    $timings.Add("$($a.Name) $([math]::Round($clock.Elapsed.TotalSeconds)) s")
}

$loadAfter = (Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3
$cpu = (Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '^model name\s*:\s*', ''
$memKb = ((Get-Content /proc/meminfo | Where-Object { $_ -like 'MemTotal*' }) -replace '\D', '')
$os = (Get-Content /etc/os-release | Where-Object { $_ -like 'PRETTY_NAME=*' }) -replace 'PRETTY_NAME=|"', ''
$qgaPackage = (& dpkg-query -W -f '${Version}' qemu-guest-agent 2>$null)
$cores = [Environment]::ProcessorCount
$maxLoad = [double](@($loadBefore[0], $loadAfter[0]) | Measure-Object -Maximum).Maximum
$loadNote = if ($maxLoad -gt $cores) {
    "**The machine was shared and loaded** (1-minute load $($loadBefore[0]) before, $($loadAfter[0]) after, on $cores cores): absolute figures are pessimistic and noisy. Ours and stock were measured minutes apart in the same run under similar load, so the ratios are the figures to read; small copies and latencies are medians of several repetitions."
}
else {
    "Load stayed at or below the core count (1-minute load $($loadBefore[0]) before, $($loadAfter[0]) after, on $cores cores)."
}

function Format-Ratio($r) {
    if ($null -eq $r.Ratio) { return '—' }
    $better = if ($r.Better -eq 'higher') { $r.Ratio -gt 1 } else { $r.Ratio -lt 1 }
    $word = if ([math]::Abs($r.Ratio - 1) -lt 0.05) { 'about equal' } elseif ($better) { 'ours better' } else { 'ours worse' }
    '{0} ({1})' -f $r.Ratio.ToString('0.00', [Globalization.CultureInfo]::InvariantCulture), $word
}
# What the file held before this run: its Summary's figures go beside the new ones (the same
# "what" text is the same measurement), and the sections measured by hand (every "## " section
# this script does not write) are kept below the header, newest first as they were.
$generatedSections = @('Summary', 'Machine', 'Details', 'Failed areas')
$previousFigures = @{}
$previousWhen = $null
$handSections = @()
if (Test-Path $OutFile) {
    $old = Get-Content -Raw $OutFile
    if ($old -match '\) on (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC') { $previousWhen = $Matches[1] }
    $parts = [regex]::Split($old, '(?m)^(?=## )')
    foreach ($part in $parts | Select-Object -Skip 1) {
        $heading = ($part -split "`n", 2)[0].Substring(3).Trim()
        if ($heading -eq 'Summary') {
            # The header, then the rows: the |---| line does not match '| *'.
            foreach ($line in $part -split "`n" | Where-Object { $_ -like '| *' } | Select-Object -Skip 1) {
                $cells = $line.Trim().Trim('|') -split ' \| '
                if ($cells.Count -ge 3) { $previousFigures[$cells[0].Trim()] = "$($cells[1].Trim()) / $($cells[2].Trim())" }
            }
        }
        elseif ($heading -notin $generatedSections) { $handSections += $part.TrimEnd() }
    }
}
$previousHeading = if ($previousWhen) { "previous run ($previousWhen): ours / stock" } else { 'previous run: ours / stock' }
$table = @(
    "| what | ours | stock qemu-ga | ratio (ours ÷ stock) | ceiling | $previousHeading | command |"
    '|---|---:|---:|---:|---:|---:|---|'
    foreach ($r in $rows) {
        $before = if ($previousFigures.ContainsKey($r.What)) { $previousFigures[$r.What] } else { '—' }
        "| $($r.What) | $(Format-BenchNumber $r.Ours) | $(Format-BenchNumber $r.Stock) | $(Format-Ratio $r) | $(Format-BenchNumber $r.Ceiling) | $before | ``$($r.Command)`` |"
    }
)
$vmFile = Join-Path $benchRoot 'vm-transfer.md'
$vmLine = if (Test-Path $vmFile) {
    $ran = @($selected | Where-Object { $_.Folder -eq 'vm' }).Count -gt 0
    "In-VM transfer (a real QEMU guest, issue 9): [bench/vm-transfer.md](vm-transfer.md)$(if ($ran) { ', rerun in this run' } else { ", not rerun in this run (opt-in: ``-Area vm``)" })."
}
else { 'In-VM transfer (a real QEMU guest): bench/vm-transfer.md once bench/vm/ exists (opt-in: `-Area vm`).' }
$invocation = if ($NoBuild) { "dotnet pwsh bench/Invoke-Bench.ps1 -NoBuild$(if ($Quick) { ' -Quick' })$(if (-not $full) { " -Area $($Area -join ',')" }) (after build.ps1 Package and the agent's NativeAOT publish)" }
elseif ($full) { 'dotnet pwsh ./build.ps1 Bench' }
else { "dotnet pwsh ./build.ps1 Bench$(if ($Quick) { ' -Quick' }) -BenchArea $($Area -join ',')" }

$body = @(
    "# Benchmark results$(if ($Quick) { ' (QUICK RUN: harness check, figures meaningless)' })"
    ''
    "Written by ``$invocation`` (bench/Invoke-Bench.ps1) on $($started.ToString('yyyy-MM-dd HH:mm')) UTC in $([math]::Round(([DateTime]::UtcNow - $started).TotalMinutes, 1)) min ($($timings -join ', '))."
    'Every ours/stock pair in a row was measured in this run on this machine; the ceiling is the'
    'same operation on a bare unix socket. Ratio = ours ÷ stock, labelled by which direction is'
    'better for that row. Timings are never asserted in tests.'
    ''
    $(foreach ($h in $handSections) { $h; '' })
    '## Summary'
    ''
    $table
    ''
    $vmLine
    ''
    '## Machine'
    ''
    "- CPU: $cpu, $cores cores; memory $([math]::Round([double]$memKb / 1MB, 1)) GiB"
    "- load average (1, 5, 15 min) before: $($loadBefore -join ' '); after: $($loadAfter -join ' ')"
    "- $loadNote"
    "- OS: $os; kernel $(uname -r)"
    "- .NET $([Environment]::Version) (SDK $(dotnet --version)); PowerShell $($PSVersionTable.PSVersion)"
    "- stock agent: Debian qemu-guest-agent $qgaPackage (qemu-ga $(Get-StockAgentVersion)); our agent: $(if ($AgentPath -like '*.dll') { 'JIT build via dotnet' } else { 'NativeAOT linux-x64' })"
    ''
    '## Details'
    ''
    ($sections -join "`n`n")
    $(if ($failures.Count) { "`n## Failed areas`n`n" + (($failures | ForEach-Object { "- $_" }) -join "`n") })
) -join "`n"
$null = New-Item -ItemType Directory -Force -Path (Split-Path $OutFile -Parent)
Set-Content -Path $OutFile -Value $body
Write-Host "wrote $OutFile"
if ($failures.Count) { throw "$($failures.Count) benchmark area(s) failed: $($failures -join '; ')" }
