#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Coverage-guided fuzzing of QemuGuest's parsers with SharpFuzz and AFL++ (build.ps1 Fuzz).

.DESCRIPTION
    Builds fuzz/QemuGuest.Fuzz, copies it to out/fuzz/bin, instruments the product assemblies in it
    with the repository's local `sharpfuzz` tool, then runs afl-fuzz once per target for a
    fixed budget, with the committed seed corpus (fuzz/corpus/TARGET) and dictionary
    (fuzz/dict). Afterwards every input afl-fuzz saved as a crash or hang is replayed
    through the target outside afl to print its exception, and a summary table is written
    to out/fuzz/summary.md. Exits 1 when any target found a crash or hang or afl-fuzz failed.
#>
[CmdletBinding()]
param(
    [string] $Configuration = 'Release',
    [string[]] $Target = @('reader', 'agent-dispatch', 'relay-validation', 'qapi-parser'),
    [int] $Seconds = 180
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$Root = Split-Path -Parent $PSScriptRoot
$Out = Join-Path $Root 'out/fuzz'
$Bin = Join-Path $Out 'bin'
$Findings = Join-Path $Out 'findings'
$Exe = Join-Path $Bin 'qemuguest-fuzz'
# Replays run the uninstrumented build: instrumented code needs afl-fuzz's shared memory.
$PlainExe = Join-Path $Root "fuzz/QemuGuest.Fuzz/bin/$Configuration/net10.0/qemuguest-fuzz"
# The assemblies whose branches afl-fuzz sees. The fuzz harness itself and SharpFuzz stay plain.
$Instrumented = @('QemuGuest.Protocol.dll', 'QemuGuest.Schema.dll', 'qemuguest-agent.dll', 'qemuguest-relay.dll')
$Dictionaries = @{ 'reader' = 'qga.dict'; 'agent-dispatch' = 'qga.dict'; 'relay-validation' = 'qga.dict'; 'qapi-parser' = 'qapi.dict' }

function Invoke-Checked([string] $File, [string[]] $Arguments) {
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Read-FuzzerStats([string] $Path) {
    $stats = @{}
    if (Test-Path $Path) {
        foreach ($line in Get-Content $Path) {
            $k, $v = $line -split '\s*:\s*', 2
            if ($k) { $stats[$k.Trim()] = "$v".Trim() }
        }
    }
    return $stats
}

foreach ($tool in 'afl-fuzz') {
    if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { throw "$tool not found (Debian package afl++)" }
}

Write-Host "==> Building fuzz/QemuGuest.Fuzz and instrumenting $($Instrumented -join ', ')" -ForegroundColor Cyan
Invoke-Checked 'dotnet' @('tool', 'restore')
if (Test-Path $Bin) { Remove-Item -Recurse -Force $Bin }
# Build, then instrument a copy (not publish: the agent project is a NativeAOT, self-contained
# executable, which a framework-dependent publish refuses to reference).
Invoke-Checked 'dotnet' @('build', (Join-Path $Root 'fuzz/QemuGuest.Fuzz/QemuGuest.Fuzz.csproj'), '-c', $Configuration, '--nologo', '-v', 'q', '-clp:ErrorsOnly')
Copy-Item -Recurse (Join-Path $Root "fuzz/QemuGuest.Fuzz/bin/$Configuration/net10.0") $Bin
foreach ($dll in $Instrumented) {
    Invoke-Checked 'dotnet' @('sharpfuzz', (Join-Path $Bin $dll))
}

$null = New-Item -ItemType Directory -Force -Path $Findings
$rows = [System.Collections.Generic.List[object]]::new()
$failed = $false
foreach ($t in $Target) {
    $dir = Join-Path $Findings $t
    if (Test-Path $dir) { Remove-Item -Recurse -Force $dir }
    $guardHangs = Join-Path $dir 'guard-hangs'
    $log = Join-Path $Out "$t.log"
    Write-Host "==> afl-fuzz $t for $Seconds s (log: $log)" -ForegroundColor Cyan

    $env:AFL_SKIP_BIN_CHECK = '1'              # the .NET host carries no AFL instrumentation; the dlls do
    $env:AFL_NO_AFFINITY = '1'                 # shared cores: do not pin
    $env:AFL_SKIP_CPUFREQ = '1'
    $env:AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES = '1'
    $env:AFL_NO_UI = '1'
    $env:AFL_MAP_SIZE = '65536'                # SharpFuzz's map
    $env:AFL_FORKSRV_INIT_TMOUT = '60000'      # .NET start-up on a loaded machine
    $env:QG_FUZZ_HANGS = $guardHangs
    $aflArgs = @('-n', '10', 'afl-fuzz', '-i', (Join-Path $Root "fuzz/corpus/$t"), '-o', $dir, '-x', (Join-Path $Root "fuzz/dict/$($Dictionaries[$t])"),
        '-V', "$Seconds", '-t', '5000', '-m', 'none', '--', $Exe, $t)
    $started = Get-Date
    $p = Start-Process -FilePath 'nice' -ArgumentList $aflArgs -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru -NoNewWindow
    # -V ends afl-fuzz after the budget; this bound covers start-up, calibration and a stuck fork server.
    if (-not $p.WaitForExit(($Seconds + 300) * 1000)) {
        Write-Warning "afl-fuzz $t did not stop on its own; killing it"
        $p.Kill($true)
        $p.WaitForExit(30000) | Out-Null
    }
    $elapsed = [int]((Get-Date) - $started).TotalSeconds
    $exit = $p.ExitCode

    $stats = Read-FuzzerStats (Join-Path $dir 'default/fuzzer_stats')
    $crashFiles = @(Get-ChildItem (Join-Path $dir 'default/crashes') -File -ErrorAction SilentlyContinue | Where-Object Name -like 'id:*')
    $hangFiles = @(Get-ChildItem (Join-Path $dir 'default/hangs') -File -ErrorAction SilentlyContinue | Where-Object Name -like 'id:*') +
        @(Get-ChildItem $guardHangs -File -ErrorAction SilentlyContinue)
    $row = [pscustomobject]@{
        Target    = $t
        Seconds   = $elapsed
        Execs     = $stats['execs_done']
        'Execs/s' = $stats['execs_per_sec']
        Corpus    = $stats['corpus_count']
        Edges     = if ($stats['edges_found']) { "$($stats['edges_found']) ($($stats['bitmap_cvg']))" } else { $null }
        Stability = $stats['stability']
        Crashes   = $crashFiles.Count
        Hangs     = $hangFiles.Count
        'afl exit' = $exit
    }
    $rows.Add($row)
    if ($exit -ne 0 -or -not $stats['execs_done']) {
        $failed = $true
        Write-Host "afl-fuzz $t exited $exit; last lines of its output:" -ForegroundColor Red
        Get-Content $log, "$log.err" -Tail 15 -ErrorAction SilentlyContinue | Write-Host
    }

    if ($crashFiles.Count + $hangFiles.Count -gt 0) {
        $failed = $true
        Write-Host "==> $t found $($crashFiles.Count) crashes and $($hangFiles.Count) hangs; replaying them:" -ForegroundColor Red
        $paths = @($crashFiles + $hangFiles | ForEach-Object FullName)
        & $PlainExe $t --replay @paths 2>&1 | Select-Object -First 200 | Write-Host
    }
}

$table = @(
    '| target | seconds | execs | execs/s | corpus | edges (map) | stability | crashes | hangs | afl exit |'
    '|---|---|---|---|---|---|---|---|---|---|'
    foreach ($r in $rows) { "| $($r.Target) | $($r.Seconds) | $($r.Execs) | $($r.'Execs/s') | $($r.Corpus) | $($r.Edges) | $($r.Stability) | $($r.Crashes) | $($r.Hangs) | $($r.'afl exit') |" }
) -join "`n"
$command = "dotnet pwsh ./build.ps1 Fuzz -Target $($Target -join ',') -FuzzSeconds $Seconds"
Set-Content -Path (Join-Path $Out 'summary.md') -Value "Produced by ``$command`` on $(Get-Date -Format 'yyyy-MM-dd') ($([Environment]::ProcessorCount) CPUs, afl-fuzz niced, shared machine).`n`n$table"
Write-Host ''
Write-Host $table
Write-Host ''
Write-Host "summary: $(Join-Path $Out 'summary.md')"
if ($failed) { exit 1 }
