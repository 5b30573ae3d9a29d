<#
.SYNOPSIS
    Our cmdlets with Debian's qemu-ga against the minimal client (raw_qga.py) with the same
    agent (issue 19, stage 7): 1 MiB (median of -SmallRuns), 64 MiB and 1 GiB each way, -Rounds
    rounds, the paths alternating within each round. Each module in -ModulePath runs in its own
    pwsh (two builds of the module cannot load in one process), so an old build and a new one
    are compared in the same run. Prints one line per sample and returns the samples.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/transfer/Measure-StockPath.ps1 -ModulePath new=out/QemuGuest,old=/tmp/old/QemuGuest -Rounds 3 -Sizes 1,64,1024
#>
param(
    # label=module folder, one per path of the comparison.
    [string[]] $ModulePath,
    [int] $Rounds = 3,
    # Sizes in MiB, comma-separated (a -File argument cannot carry an array).
    [string] $Sizes = '1,64,1024',
    [int] $SmallRuns = 5,
    [int] $ChunkSize = 60KB,
    # Internal: run one module's copies in this process and print their samples as JSON.
    [string] $Child,
    [string] $Work
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-StrictMode -Version 3.0
[int[]] $SizeMiB = $Sizes -split ','
Import-Module (Join-Path $PSScriptRoot '../BenchCommon.psm1') -Force

function Get-Reps([int] $Size) { if ($Size -eq 1) { $SmallRuns } else { 1 } }

if ($Child) {
    Import-Module (Resolve-Path $Child).Path -Force
    $agent = Start-BenchAgent -Kind Stock
    try {
        $session = New-VMGuestSession -ConnectionString $agent.ConnectionString -Name 'bench-stockpath'
        # Warm both directions first: the first copy of a process pays for JIT, not for the path.
        $null = Copy-VMGuestFile -Session $session -LocalToGuest -Source (Join-Path $Work 'src-1.bin') -Destination (Join-Path $Work 'warm.bin') -ChunkSize $ChunkSize -Force
        $null = Copy-VMGuestFile -Session $session -GuestToLocal -Source (Join-Path $Work 'src-1.bin') -Destination (Join-Path $Work 'warm-down.bin') -ChunkSize $ChunkSize -Force
        $out = foreach ($size in $SizeMiB) {
            for ($r = 0; $r -lt (Get-Reps $size); $r++) {
                $up = Copy-VMGuestFile -Session $session -LocalToGuest -Source (Join-Path $Work "src-$size.bin") -Destination (Join-Path $Work 'up.bin') -ChunkSize $ChunkSize -Force -PassThru
                [pscustomobject]@{ SizeMiB = $size; Direction = 'to guest'; Bytes = $up.Bytes; Seconds = $up.Duration.TotalSeconds }
                $down = Copy-VMGuestFile -Session $session -GuestToLocal -Source (Join-Path $Work "src-$size.bin") -Destination (Join-Path $Work 'down.bin') -ChunkSize $ChunkSize -Force -PassThru
                [pscustomobject]@{ SizeMiB = $size; Direction = 'from guest'; Bytes = $down.Bytes; Seconds = $down.Duration.TotalSeconds }
            }
        }
        $session | Remove-VMGuestSession -Confirm:$false
        $out | ConvertTo-Json -Compress
    }
    finally { $agent | Stop-BenchProcess }
    return
}

$work = Join-Path ([IO.Path]::GetTempPath()) ('qg-bench-stockpath-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
$null = New-Item -ItemType Directory -Path $work
$samples = [Collections.Generic.List[object]]::new()
function Add-Sample([int] $Round, [string] $Path, [int] $Size, [string] $Direction, [long] $Bytes, [double] $Seconds) {
    if ($Bytes -ne [long]$Size * 1MB) { throw "$Path $Direction $Size MiB moved $Bytes bytes" }
    $s = [pscustomobject]@{ Round = $Round; Path = $Path; SizeMiB = $Size; Direction = $Direction; Seconds = $Seconds; MiBps = $Bytes / 1MB / $Seconds; Load = (Get-Content /proc/loadavg).Split(' ')[0] }
    $samples.Add($s)
    Write-Host ('  round {0} {1,-22} {2,5} MiB {3,-10} {4,8:N1} MiB/s  load {5}' -f $Round, $Path, $Size, $Direction, $s.MiBps, $s.Load)
}
try {
    $null = New-Item -ItemType Directory -Path (Join-Path $work 'data')
    foreach ($size in @(1) + $SizeMiB | Select-Object -Unique) { New-BenchData -Path (Join-Path $work "src-$size.bin") -Bytes ([long]$size * 1MB) }
    $pwsh = Join-Path $PSHOME 'pwsh'
    for ($round = 1; $round -le $Rounds; $round++) {
        $agent = Start-BenchAgent -Kind Stock
        try {
            foreach ($size in $SizeMiB) {
                for ($r = 0; $r -lt (Get-Reps $size); $r++) {
                    $n, $s = (& python3 (Join-Path $PSScriptRoot 'raw_qga.py') $agent.Socket w $ChunkSize ([long]$size * 1MB) (Join-Path $work 'raw.bin')) -split ' '
                    Add-Sample $round 'minimal client' $size 'to guest' $n $s
                    $n, $s = (& python3 (Join-Path $PSScriptRoot 'raw_qga.py') $agent.Socket r $ChunkSize 0 (Join-Path $work "src-$size.bin")) -split ' '
                    Add-Sample $round 'minimal client' $size 'from guest' $n $s
                    if ($size -le 64) {
                        # The same with its guest-file-open timed, as a copy's duration has it.
                        $n, $s = (& python3 (Join-Path $PSScriptRoot 'raw_qga.py') $agent.Socket w $ChunkSize ([long]$size * 1MB) (Join-Path $work 'raw.bin') open) -split ' '
                        Add-Sample $round 'minimal client+open' $size 'to guest' $n $s
                        $n, $s = (& python3 (Join-Path $PSScriptRoot 'raw_qga.py') $agent.Socket r $ChunkSize 0 (Join-Path $work "src-$size.bin") open) -split ' '
                        Add-Sample $round 'minimal client+open' $size 'from guest' $n $s
                    }
                }
            }
        }
        finally { $agent | Stop-BenchProcess }
        foreach ($pair in ($ModulePath -split ',')) {
            $label, $folder = $pair -split '=', 2
            $module = (Resolve-Path $folder).Path
            $args = @('-NoProfile', '-File', $PSCommandPath, '-Child', $module, '-Work', $work, '-ChunkSize', $ChunkSize, '-SmallRuns', $SmallRuns, '-Sizes', $Sizes)
            $json = & $pwsh @args
            if ($LASTEXITCODE -ne 0) { throw "the copies with $label failed: $json" }
            foreach ($x in ($json | Select-Object -Last 1 | ConvertFrom-Json)) { Add-Sample $round "cmdlets $label" $x.SizeMiB $x.Direction $x.Bytes $x.Seconds }
        }
    }
}
finally { Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue }

# Per round, size and direction: each path's median MiB/s and its ratio to the minimal client's.
Write-Host ''
Write-Host '| round | size | direction | path | MiB/s (median) | vs minimal client | load |'
Write-Host '|---:|---:|---|---|---:|---:|---:|'
foreach ($g in ($samples | Group-Object Round, SizeMiB, Direction)) {
    $minimal = Get-Median @($g.Group | Where-Object Path -EQ 'minimal client' | ForEach-Object MiBps)
    foreach ($p in ($g.Group | Group-Object Path)) {
        $m = Get-Median @($p.Group.MiBps)
        $loads = @($p.Group.Load | ForEach-Object { [double]$_ } | Measure-Object -Minimum -Maximum)
        Write-Host ('| {0} | {1} MiB | {2} | {3} | {4:N1} | {5:N2} | {6}-{7} |' -f $p.Group[0].Round, $p.Group[0].SizeMiB, $p.Group[0].Direction, $p.Name, $m, ($m / $minimal), $loads.Minimum, $loads.Maximum)
    }
}
$samples | ConvertTo-Json | Set-Content -Path (Join-Path ([IO.Path]::GetTempPath()) 'qg-bench-stockpath-last.json')
