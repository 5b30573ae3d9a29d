<#
.SYNOPSIS
    Transfer throughput host->guest and guest->host for 1 MiB, 64 MiB and 1 GiB files: our
    cmdlets with our agent, our cmdlets with Debian's qemu-ga, and a plain minimal client
    (raw_qga.py, one request at a time) with qemu-ga; the ceiling is raw unix-socket throughput
    with 1 MiB buffers on both ends. Also each agent's peak RSS over its copies. One run, one
    machine. Returns rows and a detail section for bench/Invoke-Bench.ps1.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/transfer/Invoke-TransferBench.ps1 -ModulePath out/QemuGuest -AgentPath out/bench/aot/qemuguest-agent
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    # Our agent: the NativeAOT binary (or the JIT .dll in quick runs).
    [Parameter(Mandatory)] [string] $AgentPath,
    [string] $Configuration = 'Release',
    [switch] $Quick,
    [int] $ChunkSize = 60KB
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot '../BenchCommon.psm1') -Force
Import-Module (Resolve-Path $ModulePath).Path -Force
$tool = Get-BenchToolPath $Configuration

# Repetitions per size: small copies are dominated by noise and session set-up, so they are
# repeated and the median is reported; the 1 GiB copy runs once per path and direction.
$sizes = if ($Quick) { @(1) } else { @(1, 64, 1024) }
$reps = if ($Quick) { @{ '1' = 1 } } else { @{ '1' = 5; '64' = 3; '1024' = 1 } }
$ceilingBytes = if ($Quick) { 64MB } else { 1GB }
$stockVersion = Get-StockAgentVersion
$work = Join-Path ([IO.Path]::GetTempPath()) ('qg-bench-transfer-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
$null = New-Item -ItemType Directory -Path $work
$samples = [Collections.Generic.List[object]]::new()
function Add-Sample([string] $Path, [int] $SizeMiB, [string] $Direction, [long] $Bytes, [double] $Seconds) {
    if ($Bytes -ne [long]$SizeMiB * 1MB) { throw "$Path $Direction ${SizeMiB} MiB moved $Bytes bytes, expected $([long]$SizeMiB * 1MB)" }
    $samples.Add([pscustomobject]@{ Path = $Path; SizeMiB = $SizeMiB; Direction = $Direction; Seconds = $Seconds; MiBps = $Bytes / 1MB / $Seconds })
    Write-Host ('  {0,-28} {1,5} MiB {2,-10} {3,8:N1} MiB/s' -f $Path, $SizeMiB, $Direction, ($Bytes / 1MB / $Seconds))
}

$peak = @{}
try {
    foreach ($size in $sizes) { New-BenchData -Path (Join-Path $work "src-$size.bin") -Bytes ([long]$size * 1MB) }

    $ceiling = Invoke-BenchProbe $tool @('ceiling', '--bytes', $ceilingBytes, '--buffer', 1MB, '--runs', 3)
    Write-Host ('  raw unix socket (ceiling)          {0,8:N1} MiB/s' -f $ceiling.mibps_median)

    # 1. The plain minimal client against qemu-ga: the best a user can do today.
    $agent = Start-BenchAgent -Kind Stock
    try {
        foreach ($size in $sizes) {
            for ($r = 0; $r -lt $reps["$size"]; $r++) {
                $src = Join-Path $work "src-$size.bin"
                $n, $s = (& python3 (Join-Path $PSScriptRoot 'raw_qga.py') $agent.Socket w $ChunkSize ([long]$size * 1MB) (Join-Path $work 'raw.bin')) -split ' '
                Add-Sample 'minimal client + qemu-ga' $size 'to guest' $n $s
                $n, $s = (& python3 (Join-Path $PSScriptRoot 'raw_qga.py') $agent.Socket r $ChunkSize 0 $src) -split ' '
                Add-Sample 'minimal client + qemu-ga' $size 'from guest' $n $s
            }
        }
    }
    finally { $agent | Stop-BenchProcess }

    # 2. and 3. Copy-VMGuestFile against each agent, each on a fresh agent process so that
    # VmHWM is the peak of exactly these copies.
    foreach ($kind in 'Ours', 'Stock') {
        $label = if ($kind -eq 'Ours') { 'our cmdlets + our agent' } else { 'our cmdlets + qemu-ga' }
        $agent = Start-BenchAgent -Kind $kind -AgentPath $AgentPath
        try {
            $session = New-VMGuestSession -ConnectionString $agent.ConnectionString -Name "bench-$kind"
            foreach ($size in $sizes) {
                for ($r = 0; $r -lt $reps["$size"]; $r++) {
                    $up = Copy-VMGuestFile -Session $session -LocalToGuest -Source (Join-Path $work "src-$size.bin") -Destination (Join-Path $work 'up.bin') -ChunkSize $ChunkSize -Force -PassThru
                    Add-Sample $label $size 'to guest' $up.Bytes $up.Duration.TotalSeconds
                    $down = Copy-VMGuestFile -Session $session -GuestToLocal -Source (Join-Path $work "src-$size.bin") -Destination (Join-Path $work 'down.bin') -ChunkSize $ChunkSize -Force -PassThru
                    Add-Sample $label $size 'from guest' $down.Bytes $down.Duration.TotalSeconds
                }
            }
            $session | Remove-VMGuestSession -Confirm:$false
            $peak[$kind] = (Get-ProcessMemory $agent.Pid).HwmKiB
        }
        finally { $agent | Stop-BenchProcess; Remove-Item (Join-Path $work 'up.bin'), (Join-Path $work 'down.bin') -ErrorAction SilentlyContinue }
    }
}
finally {
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}

function Get-Rate([string] $Path, [int] $Size, [string] $Direction) {
    Get-Median @($samples | Where-Object { $_.Path -eq $Path -and $_.SizeMiB -eq $Size -and $_.Direction -eq $Direction } | ForEach-Object MiBps)
}
$agentNote = if ($AgentPath -like '*.dll') { 'JIT build (quick run)' } else { 'NativeAOT' }
$cmd = "dotnet pwsh -File bench/transfer/Invoke-TransferBench.ps1 -ModulePath out/QemuGuest -AgentPath $(if ($AgentPath -like '*.dll') { 'src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll' } else { 'out/bench/aot/qemuguest-agent' })$(if ($Quick) { ' -Quick' })"
$rows = foreach ($size in $sizes) {
    $sizeText = if ($size -ge 1024) { "$($size / 1024) GiB" } else { "$size MiB" }
    foreach ($dir in @(@('to guest', 'host→guest'), @('from guest', 'guest→host'))) {
        $note = if ($reps["$size"] -gt 1) { ", median of $($reps["$size"])" } else { '' }
        New-BenchRow -Area transfer -What "$($dir[1]) $sizeText, MiB/s${note}: our cmdlets + our agent vs minimal client + qemu-ga" -Unit 'MiB/s' `
            -Ours (Get-Rate 'our cmdlets + our agent' $size $dir[0]) -Stock (Get-Rate 'minimal client + qemu-ga' $size $dir[0]) -Ceiling $ceiling.mibps_median -Command $cmd
        New-BenchRow -Area transfer -What "$($dir[1]) $sizeText, MiB/s${note}: our cmdlets + qemu-ga vs minimal client + qemu-ga" -Unit 'MiB/s' `
            -Ours (Get-Rate 'our cmdlets + qemu-ga' $size $dir[0]) -Stock (Get-Rate 'minimal client + qemu-ga' $size $dir[0]) -Ceiling $ceiling.mibps_median -Command $cmd
    }
}
$biggest = $sizes[-1]
$rows = @($rows) + (New-BenchRow -Area transfer -What "agent peak RSS (VmHWM) over all its copies up to $biggest MiB each way, MiB (driven by our cmdlets)" -Unit 'MiB' -Better lower `
        -Ours ($peak['Ours'] / 1024) -Stock ($peak['Stock'] / 1024) -Command $cmd)

$detail = @(
    '### Transfer'
    ''
    "Block size $($ChunkSize / 1KB) KiB for every client (Copy-VMGuestFile keeps up to 4 requests in flight; the minimal client,"
    '`bench/transfer/raw_qga.py`, sends one request at a time and times only the write/read loop, while'
    "Copy-VMGuestFile's duration also covers open, close and the atomic rename). Our agent: $agentNote; stock: Debian qemu-ga $stockVersion."
    "Ceiling: ``dotnet bench/QemuGuest.Benchmarks/bin/Release/net10.0/QemuGuest.Benchmarks.dll ceiling --bytes $ceilingBytes --buffer 1048576 --runs 3``"
    "(one unix stream socket, 1 MiB send and receive buffers, median of 3: $([math]::Round($ceiling.mibps_median, 0)) MiB/s, min $([math]::Round($ceiling.mibps_min, 0)), max $([math]::Round($ceiling.mibps_max, 0)))."
    ''
    '| path | size | direction | MiB/s (median) | runs | seconds (each) |'
    '|---|---:|---|---:|---:|---|'
    foreach ($g in ($samples | Group-Object Path, SizeMiB, Direction)) {
        $first = $g.Group[0]
        "| $($first.Path) | $($first.SizeMiB) MiB | $($first.Direction) | $(Format-BenchNumber (Get-Median @($g.Group.MiBps))) | $($g.Count) | $((@($g.Group | ForEach-Object { [math]::Round($_.Seconds, 3) })) -join ', ') |"
    }
    ''
    "Agent peak RSS (VmHWM, read from /proc before stopping it) over all copies above: ours $([math]::Round($peak['Ours'] / 1024, 1)) MiB, qemu-ga $([math]::Round($peak['Stock'] / 1024, 1)) MiB."
) -join "`n"

[pscustomobject]@{ Rows = $rows; Detail = $detail }
