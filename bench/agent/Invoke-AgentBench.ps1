<#
.SYNOPSIS
    Agent footprint next to Debian's qemu-ga: binary size (and the shared libraries it needs
    beyond libc/libm), process start -> first guest-ping reply, idle RSS, and memory under a
    plain client's requests (agent-memory.py: peak RSS over a copy in 60 KiB blocks, RSS left
    after 8 and 48 MiB requests). Peak RSS during Copy-VMGuestFile is measured by the transfer area. Returns rows and a detail section for
    bench/Invoke-Bench.ps1.
.EXAMPLE
    dotnet publish src/QemuGuest.Agent -c Release -r linux-x64 -o out/bench/aot
    dotnet pwsh -NoProfile -File bench/agent/Invoke-AgentBench.ps1 -AgentPath out/bench/aot/qemuguest-agent
#>
param(
    [Parameter(Mandatory)] [string] $AgentPath,
    [switch] $Quick
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot '../BenchCommon.psm1') -Force
$runs = if ($Quick) { 2 } else { 21 }
$idle = if ($Quick) { 0.5 } else { 2 }
$stock = '/usr/sbin/qemu-ga'
$copyMiB = if ($Quick) { 4 } else { 64 }
$afterIdle = if ($Quick) { 0.5 } else { 3 }

function Measure-Agent([string] $Binary) {
    $out = & python3 (Join-Path $PSScriptRoot 'agent-startup.py') $Binary $runs $idle
    if ($LASTEXITCODE -ne 0) { throw "agent-startup.py $Binary failed ($LASTEXITCODE)" }
    $r = $out | Select-Object -Last 1 | ConvertFrom-Json
    Write-Host ("  {0,-40} {1,10:N0} B   first reply {2,6:N1} ms (min {3})   idle RSS {4:N0} KiB" -f $Binary, $r.size_bytes, $r.first_reply_ms_median, $r.first_reply_ms_min, $r.idle_rss_kib)
    $r
}

function Measure-AgentMemory([string] $Binary) {
    $out = & python3 (Join-Path $PSScriptRoot 'agent-memory.py') $Binary $copyMiB $afterIdle
    if ($LASTEXITCODE -ne 0) { throw "agent-memory.py $Binary failed ($LASTEXITCODE)" }
    $r = $out | Select-Object -Last 1 | ConvertFrom-Json
    Write-Host ("  {0,-40} copy peak {1:N0} KiB   after large requests {2:N0} KiB   peak {3:N0} KiB" -f $Binary, $r.copy_peak_rss_kib, $r.rss_after_large_kib, $r.peak_rss_kib)
    $r
}

# Shared libraries beyond the C runtime that every process maps anyway: what installing the
# agent brings along.
function Get-ExtraLibraryBytes([string] $Binary) {
    if ($Binary -like '*.dll') { return $null }
    $libs = & ldd $Binary | ForEach-Object { if ($_ -match '=>\s+(\S+)\s+\(') { $Matches[1] } } |
        Where-Object { (Split-Path $_ -Leaf) -notmatch '^(libc|libm|ld-linux.*|libdl|libpthread|librt)\.so' }
    # ldd names the sonames' symlinks; the size that counts is the file they point to.
    [long](($libs | ForEach-Object { [IO.FileInfo]::new((& realpath $_)).Length } | Measure-Object -Sum).Sum)
}

$ours = Measure-Agent $AgentPath
$theirs = Measure-Agent $stock
$oursMemory = Measure-AgentMemory $AgentPath
$theirsMemory = Measure-AgentMemory $stock
$oursLibs = Get-ExtraLibraryBytes $AgentPath
$stockLibs = Get-ExtraLibraryBytes $stock
$agentNote = if ($AgentPath -like '*.dll') { 'JIT build through `dotnet` (quick run: not the shipped form)' } else { 'NativeAOT, linux-x64' }
$cmd = "python3 bench/agent/agent-startup.py $(if ($AgentPath -like '*.dll') { 'src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll' } else { 'out/bench/aot/qemuguest-agent' }) $runs $idle; python3 bench/agent/agent-startup.py /usr/sbin/qemu-ga $runs $idle"
$memoryCmd = "python3 bench/agent/agent-memory.py $(if ($AgentPath -like '*.dll') { 'src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll' } else { 'out/bench/aot/qemuguest-agent' }) $copyMiB $afterIdle; python3 bench/agent/agent-memory.py /usr/sbin/qemu-ga $copyMiB $afterIdle"
$rows = @(
    New-BenchRow -Area agent -What 'agent binary size, MB' -Unit 'MB' -Better lower -Ours ($ours.size_bytes / 1e6) -Stock ($theirs.size_bytes / 1e6) -Command 'dotnet publish src/QemuGuest.Agent -c Release -r linux-x64 -o out/bench/aot; stat'
    # A JIT build (quick runs) has no native binary to follow with ldd.
    if ($null -ne $oursLibs) {
        New-BenchRow -Area agent -What 'agent binary + shared libraries beyond libc/libm, MB' -Unit 'MB' -Better lower -Ours (($ours.size_bytes + $oursLibs) / 1e6) -Stock (($theirs.size_bytes + $stockLibs) / 1e6) -Command 'ldd; stat'
    }
    New-BenchRow -Area agent -What "process start → first guest-ping reply, ms, median of $runs" -Unit 'ms' -Better lower -Ours $ours.first_reply_ms_median -Stock $theirs.first_reply_ms_median -Command $cmd
    New-BenchRow -Area agent -What "process start → first guest-ping reply, ms, best of $runs" -Unit 'ms' -Better lower -Ours $ours.first_reply_ms_min -Stock $theirs.first_reply_ms_min -Command $cmd
    New-BenchRow -Area agent -What "idle RSS $idle s after the first reply, MiB" -Unit 'MiB' -Better lower -Ours ($ours.idle_rss_kib / 1024) -Stock ($theirs.idle_rss_kib / 1024) -Command $cmd
    New-BenchRow -Area agent -What "agent peak RSS over a $copyMiB MiB copy each way in 60 KiB blocks, one request at a time, MiB" -Unit 'MiB' -Better lower -Ours ($oursMemory.copy_peak_rss_kib / 1024) -Stock ($theirsMemory.copy_peak_rss_kib / 1024) -Command $memoryCmd
    New-BenchRow -Area agent -What "agent RSS $afterIdle s after 4 x 8 MiB writes, 4 x 8 MiB reads and one 48 MiB read, MiB" -Unit 'MiB' -Better lower -Ours ($oursMemory.rss_after_large_kib / 1024) -Stock ($theirsMemory.rss_after_large_kib / 1024) -Command $memoryCmd
    New-BenchRow -Area agent -What 'agent peak RSS over all of those requests, MiB' -Unit 'MiB' -Better lower -Ours ($oursMemory.peak_rss_kib / 1024) -Stock ($theirsMemory.peak_rss_kib / 1024) -Command $memoryCmd
)
$detail = @(
    '### Agent footprint'
    ''
    "Ours: $agentNote. Stock: Debian qemu-ga $(Get-StockAgentVersion). ``agent-startup.py`` starts the agent in unix-listen"
    'mode with a fresh state directory, connects as soon as the socket accepts, times one guest-ping'
    "from process start to the reply, and after the last run reads VmRSS $idle s later. Raw output:"
    ''
    '```'
    ($ours | ConvertTo-Json -Compress)
    ($theirs | ConvertTo-Json -Compress)
    ($oursMemory | ConvertTo-Json -Compress)
    ($theirsMemory | ConvertTo-Json -Compress)
    '```'
    ''
    "Shared libraries beyond libc/libm/ld.so: ours $(if ($null -ne $oursLibs) { '{0:N0} B' -f $oursLibs } else { 'n/a (JIT)' }), qemu-ga $('{0:N0} B' -f $stockLibs) (glib, pcre2, udev, numa, uring, ...)."
) -join "`n"
[pscustomobject]@{ Rows = $rows; Detail = $detail }
