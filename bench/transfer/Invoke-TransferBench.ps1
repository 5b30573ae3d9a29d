<#
.SYNOPSIS
    Transfer throughput host->guest and guest->host for 1 MiB, 64 MiB and 1 GiB files, in rounds
    that alternate the paths (one round: every path once, in this order), so load that comes
    and goes on a shared machine falls on all of them alike:
    - our cmdlets + our agent, bulk: QEMUGUEST_BULK=1 (binary bulk mode in turns, docs/copy.md);
    - our cmdlets + our agent, bulk whole: QEMUGUEST_BULK=whole (stage 6's transfers: 64 MiB
      into the guest, the rest of the file out of it), what turns cost;
    - our cmdlets + our agent, JSON: QEMUGUEST_BULK=0 (guest-file-read/write);
    - our cmdlets + Debian's qemu-ga;
    - a plain minimal client (raw_qga.py, one request at a time) + qemu-ga.
    The ceiling is raw unix-socket throughput with 1 MiB buffers on both ends. Also each agent's
    peak RSS over its copies (the highest of its rounds). One run, one machine. Returns rows and
    a detail section for bench/Invoke-Bench.ps1.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/transfer/Invoke-TransferBench.ps1 -ModulePath out/QemuGuest -AgentPath out/bench/aot/qemuguest-agent
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/transfer/Invoke-TransferBench.ps1 -ModulePath out/QemuGuest -AgentPath out/bench/aot/qemuguest-agent -SizeMiB 1024 -Rounds 3
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    # Our agent: the NativeAOT binary (or the JIT .dll in quick runs).
    [Parameter(Mandatory)] [string] $AgentPath,
    [string] $Configuration = 'Release',
    [switch] $Quick,
    [int] $ChunkSize = 60KB,
    # File sizes; default 1, 64 and 1024 MiB (1 MiB with -Quick).
    [int[]] $SizeMiB,
    # Rounds per size; default: 5 for 1 MiB, 3 above (1 with -Quick). The median is reported.
    [int] $Rounds
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot '../BenchCommon.psm1') -Force
Import-Module (Resolve-Path $ModulePath).Path -Force
$tool = Get-BenchToolPath $Configuration

$sizes = if ($SizeMiB) { $SizeMiB } elseif ($Quick) { @(1) } else { @(1, 64, 1024) }
function Get-Rounds([int] $Size) { if ($Rounds) { $Rounds } elseif ($Quick) { 1 } elseif ($Size -le 1) { 5 } else { 3 } }
$ceilingBytes = if ($Quick) { 64MB } else { 1GB }
$stockVersion = Get-StockAgentVersion
$work = Join-Path ([IO.Path]::GetTempPath()) ('qg-bench-transfer-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
$null = New-Item -ItemType Directory -Path $work
$samples = [Collections.Generic.List[object]]::new()
$loads = [Collections.Generic.List[string]]::new()
function Add-Sample([string] $Path, [int] $SizeMiB, [string] $Direction, [long] $Bytes, [double] $Seconds, [int] $Round) {
    if ($Bytes -ne [long]$SizeMiB * 1MB) { throw "$Path $Direction ${SizeMiB} MiB moved $Bytes bytes, expected $([long]$SizeMiB * 1MB)" }
    $samples.Add([pscustomobject]@{ Path = $Path; SizeMiB = $SizeMiB; Direction = $Direction; Seconds = $Seconds; MiBps = $Bytes / 1MB / $Seconds; Round = $Round })
    Write-Host ('  {0,-38} {1,5} MiB {2,-10} {3,8:N1} MiB/s  (round {4})' -f $Path, $SizeMiB, $Direction, ($Bytes / 1MB / $Seconds), $Round)
}
function Get-Load { ((Get-Content /proc/loadavg) -split ' ')[0] }

# Our agent's three paths: the label and QEMUGUEST_BULK in this session while it runs (read by
# each Copy-VMGuestFile when it starts its transfer engine).
$oursPaths = [ordered]@{ 'our cmdlets + our agent, bulk' = '1'; 'our cmdlets + our agent, bulk whole' = 'whole'; 'our cmdlets + our agent, JSON' = '0' }
$peak = @{}
$savedBulk = $env:QEMUGUEST_BULK
try {
    foreach ($size in $sizes) { New-BenchData -Path (Join-Path $work "src-$size.bin") -Bytes ([long]$size * 1MB) }

    $ceiling = Invoke-BenchProbe $tool @('ceiling', '--bytes', $ceilingBytes, '--buffer', 1MB, '--runs', 3)
    Write-Host ('  raw unix socket (ceiling)          {0,8:N1} MiB/s' -f $ceiling.mibps_median)

    foreach ($size in $sizes) {
        $src = Join-Path $work "src-$size.bin"
        for ($round = 1; $round -le (Get-Rounds $size); $round++) {
            $loads.Add("$size MiB round ${round}: load $(Get-Load)")
            # Copy-VMGuestFile against each agent, each on a fresh agent process so that VmHWM
            # is the peak of exactly these copies.
            foreach ($label in @($oursPaths.Keys) + 'our cmdlets + qemu-ga') {
                $kind = if ($label -eq 'our cmdlets + qemu-ga') { 'Stock' } else { 'Ours' }
                $env:QEMUGUEST_BULK = if ($kind -eq 'Ours') { $oursPaths[$label] } else { $null }
                $agent = Start-BenchAgent -Kind $kind -AgentPath $AgentPath
                try {
                    $session = New-VMGuestSession -ConnectionString $agent.ConnectionString -Name "bench-$kind"
                    $up = Copy-VMGuestFile -Session $session -LocalToGuest -Source $src -Destination (Join-Path $work 'up.bin') -ChunkSize $ChunkSize -Force -PassThru
                    Add-Sample $label $size 'to guest' $up.Bytes $up.Duration.TotalSeconds $round
                    $down = Copy-VMGuestFile -Session $session -GuestToLocal -Source $src -Destination (Join-Path $work 'down.bin') -ChunkSize $ChunkSize -Force -PassThru
                    Add-Sample $label $size 'from guest' $down.Bytes $down.Duration.TotalSeconds $round
                    $session | Remove-VMGuestSession -Confirm:$false
                    $peak[$label] = [math]::Max([double]($peak[$label] ?? 0), (Get-ProcessMemory $agent.Pid).HwmKiB)
                }
                finally { $agent | Stop-BenchProcess; Remove-Item (Join-Path $work 'up.bin'), (Join-Path $work 'down.bin') -ErrorAction SilentlyContinue }
            }
            $env:QEMUGUEST_BULK = $savedBulk

            # The plain minimal client against qemu-ga: the best a user can do without us.
            $agent = Start-BenchAgent -Kind Stock
            try {
                $n, $s = (& python3 (Join-Path $PSScriptRoot 'raw_qga.py') $agent.Socket w $ChunkSize ([long]$size * 1MB) (Join-Path $work 'raw.bin')) -split ' '
                Add-Sample 'minimal client + qemu-ga' $size 'to guest' $n $s $round
                $n, $s = (& python3 (Join-Path $PSScriptRoot 'raw_qga.py') $agent.Socket r $ChunkSize 0 $src) -split ' '
                Add-Sample 'minimal client + qemu-ga' $size 'from guest' $n $s $round
            }
            finally { $agent | Stop-BenchProcess; Remove-Item (Join-Path $work 'raw.bin') -ErrorAction SilentlyContinue }
        }
    }
    $loads.Add("end: load $(Get-Load)")
}
finally {
    $env:QEMUGUEST_BULK = $savedBulk
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}

function Get-Rate([string] $Path, [int] $Size, [string] $Direction) {
    Get-Median @($samples | Where-Object { $_.Path -eq $Path -and $_.SizeMiB -eq $Size -and $_.Direction -eq $Direction } | ForEach-Object MiBps)
}
$agentNote = if ($AgentPath -like '*.dll') { 'JIT build (quick run)' } else { 'NativeAOT' }
$cmd = "dotnet pwsh -File bench/transfer/Invoke-TransferBench.ps1 -ModulePath out/QemuGuest -AgentPath $(if ($AgentPath -like '*.dll') { 'src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll' } else { 'out/bench/aot/qemuguest-agent' })$(if ($Quick) { ' -Quick' })$(if ($SizeMiB) { " -SizeMiB $($SizeMiB -join ',')" })$(if ($Rounds) { " -Rounds $Rounds" })"
$rows = foreach ($size in $sizes) {
    $sizeText = if ($size -ge 1024) { "$($size / 1024) GiB" } else { "$size MiB" }
    $n = Get-Rounds $size
    foreach ($dir in @(@('to guest', 'host→guest'), @('from guest', 'guest→host'))) {
        $note = if ($n -gt 1) { ", median of $n rounds" } else { '' }
        foreach ($label in $oursPaths.Keys) {
            New-BenchRow -Area transfer -What "$($dir[1]) $sizeText, MiB/s${note}: $label vs minimal client + qemu-ga" -Unit 'MiB/s' `
                -Ours (Get-Rate $label $size $dir[0]) -Stock (Get-Rate 'minimal client + qemu-ga' $size $dir[0]) -Ceiling $ceiling.mibps_median -Command $cmd
        }
        New-BenchRow -Area transfer -What "$($dir[1]) $sizeText, MiB/s${note}: our cmdlets + qemu-ga vs minimal client + qemu-ga" -Unit 'MiB/s' `
            -Ours (Get-Rate 'our cmdlets + qemu-ga' $size $dir[0]) -Stock (Get-Rate 'minimal client + qemu-ga' $size $dir[0]) -Ceiling $ceiling.mibps_median -Command $cmd
    }
}
$biggest = $sizes[-1]
$rows = @($rows) + (New-BenchRow -Area transfer -What "agent peak RSS (VmHWM) over its copies up to $biggest MiB each way, MiB (our cmdlets; ours: bulk in turns)" -Unit 'MiB' -Better lower `
        -Ours ($peak['our cmdlets + our agent, bulk'] / 1024) -Stock ($peak['our cmdlets + qemu-ga'] / 1024) -Command $cmd)

$detail = @(
    '### Transfer'
    ''
    "Rounds alternate the paths (per round: ours bulk, ours bulk whole, ours JSON, our cmdlets + qemu-ga, minimal client + qemu-ga), each on a fresh agent."
    "JSON paths: $($ChunkSize / 1KB) KiB blocks (Copy-VMGuestFile keeps up to 4 requests in flight with our agent, one with the stock agent; the minimal client,"
    '`bench/transfer/raw_qga.py`, sends one request at a time and times only the write/read loop, while'
    "Copy-VMGuestFile's duration also covers open, close and the atomic rename). Bulk: 1 MiB frames, in turns of about 250 ms (``QEMUGUEST_BULK=1``) or stage 6's whole transfers (``QEMUGUEST_BULK=whole``)."
    "Our agent: $agentNote; stock: Debian qemu-ga $stockVersion. Load (1-minute average) before each round: $($loads -join '; ')."
    "Ceiling: ``dotnet bench/QemuGuest.Benchmarks/bin/Release/net10.0/QemuGuest.Benchmarks.dll ceiling --bytes $ceilingBytes --buffer 1048576 --runs 3``"
    "(one unix stream socket, 1 MiB send and receive buffers, median of 3: $([math]::Round($ceiling.mibps_median, 0)) MiB/s, min $([math]::Round($ceiling.mibps_min, 0)), max $([math]::Round($ceiling.mibps_max, 0)))."
    ''
    '| path | size | direction | MiB/s (median) | rounds | MiB/s per round |'
    '|---|---:|---|---:|---:|---|'
    foreach ($g in ($samples | Group-Object Path, SizeMiB, Direction)) {
        $first = $g.Group[0]
        "| $($first.Path) | $($first.SizeMiB) MiB | $($first.Direction) | $(Format-BenchNumber (Get-Median @($g.Group.MiBps))) | $($g.Count) | $((@($g.Group | Sort-Object Round | ForEach-Object { [math]::Round($_.MiBps, 1) })) -join ', ') |"
    }
    ''
    "Agent peak RSS (VmHWM, read from /proc before stopping it; the highest of its rounds): $(($peak.Keys | Sort-Object | ForEach-Object { '{0} {1:N1} MiB' -f $_, ($peak[$_] / 1024) }) -join '; ')."
) -join "`n"

[pscustomobject]@{ Rows = $rows; Detail = $detail }
