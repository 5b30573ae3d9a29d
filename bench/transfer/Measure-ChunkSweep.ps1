<#
.SYNOPSIS
    Copy-VMGuestFile throughput against block size (-ChunkSize), for several agents in one run:
    which lever the block size is (issue 19). Not part of build.ps1 Bench (one-off profiling).
    Beside each rate, the CPU seconds the agent and this pwsh (the module) spent on that copy:
    on a shared, loaded machine the rates swing with the load, CPU time per byte much less.
.EXAMPLE
    dotnet pwsh -NoProfile -Command "& bench/transfer/Measure-ChunkSweep.ps1 -ModulePath out/QemuGuest -Agent @{ ours = 'out/bench/aot/qemuguest-agent'; stock = '' } -SizeMiB 256"
.EXAMPLE
    Our agent with the binary bulk mode and with guest-file-read/write, beside the stock agent:
    dotnet pwsh -NoProfile -Command "& bench/transfer/Measure-ChunkSweep.ps1 -ModulePath out/QemuGuest -Agent @{ 'a-ours-bulk' = 'out/bench/aot/qemuguest-agent'; 'b-ours-json' = 'out/bench/aot/qemuguest-agent'; 'c-stock' = '' } -NoBulk b-ours-json -SizeMiB 1024 -ChunkKiB 60"
.EXAMPLE
    The same three through the relay (one relay per row, in front of that row's agent; built
    with dotnet build src/QemuGuest.Relay -c Release): the CPU column adds the relay's seconds.
    dotnet pwsh -NoProfile -Command "& bench/transfer/Measure-ChunkSweep.ps1 -ModulePath out/QemuGuest -Agent @{ 'a-ours-bulk' = 'out/bench/aot/qemuguest-agent'; 'b-ours-json' = 'out/bench/aot/qemuguest-agent'; 'c-stock' = '' } -NoBulk b-ours-json -SizeMiB 256 -ChunkKiB 60 -ThroughRelay"
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    # Label -> agent binary (or .dll); an empty path is Debian's qemu-ga.
    [Parameter(Mandatory)] [hashtable] $Agent,
    [int] $SizeMiB = 256,
    [int[]] $ChunkKiB = @(60, 1024, 4096, 16384),
    # Labels whose copies keep guest-file-read/write (QEMUGUEST_BULK=0) even when the agent
    # offers the binary bulk mode, so both paths are measured in one run.
    [string[]] $NoBulk = @(),
    # Copy through a relay in front of each agent instead of to the agent's socket.
    [switch] $ThroughRelay,
    [string] $RelayConfiguration = 'Release'
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot '../BenchCommon.psm1') -Force
Import-Module (Resolve-Path $ModulePath).Path -Force

$work = Join-Path ([IO.Path]::GetTempPath()) ('qg-bench-sweep-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
$null = New-Item -ItemType Directory -Path $work
$source = Join-Path $work 'src.bin'
New-BenchData -Path $source -Bytes ([long]$SizeMiB * 1MB)
$rows = [Collections.Generic.List[string]]::new()
$rows.Add("load before: $((Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3)")
$rows.Add('')
$relayPath = if ($ThroughRelay) { Get-RelayPath $RelayConfiguration } else { $null }
$cpuHeader = if ($ThroughRelay) { 'agent / module / relay CPU s' } else { 'agent / module CPU s' }
$rows.Add("| agent | block KiB | to guest MiB/s | $cpuHeader | from guest MiB/s | $cpuHeader | agent peak RSS MiB |")
$rows.Add('|---|---:|---:|---:|---:|---:|---:|')
# utime + stime of a process, in seconds (clock ticks of 1/100 s on Linux).
function Get-CpuSeconds([int] $ProcessId) {
    $fields = (Get-Content "/proc/$ProcessId/stat" -Raw).Split(')')[1].Trim().Split(' ')
    ([double]$fields[11] + [double]$fields[12]) / 100
}
$module = [Diagnostics.Process]::GetCurrentProcess()
function Get-ModuleCpuSeconds { $module.Refresh(); $module.TotalProcessorTime.TotalSeconds }
try {
    # One untimed copy each way first, so that no row's module CPU time includes compiling the module.
    $warm = Start-BenchAgent -Kind Stock
    try {
        $session = New-VMGuestSession -ConnectionString $warm.ConnectionString -Name 'sweep-warm-up'
        New-BenchData -Path (Join-Path $work 'warm.bin') -Bytes 16MB
        $null = Copy-VMGuestFile -Session $session -LocalToGuest -Source (Join-Path $work 'warm.bin') -Destination (Join-Path $work 'up.bin') -Force
        $null = Copy-VMGuestFile -Session $session -GuestToLocal -Source (Join-Path $work 'up.bin') -Destination (Join-Path $work 'down.bin') -Force
        $session | Remove-VMGuestSession -Confirm:$false
    }
    finally { $warm | Stop-BenchProcess }
    foreach ($label in ($Agent.Keys | Sort-Object)) {
        foreach ($chunk in $ChunkKiB) {
            $kind = if ($Agent[$label]) { 'Ours' } else { 'Stock' }
            $a = Start-BenchAgent -Kind $kind -AgentPath $Agent[$label]
            $relay = $null
            # The bulk mode is off by default (see docs/copy.md): on for every label but these.
            $env:QEMUGUEST_BULK = if ($label -in $NoBulk) { '0' } else { '1' }
            try {
                $target = $a.ConnectionString
                if ($ThroughRelay) {
                    $relay = Start-BenchRelay -RelayPath $relayPath -Vms @{ 'bench' = $a.Socket }
                    $target = 'unix:' + (Join-Path $relay.RuntimeDirectory 'bench.sock')
                }
                $relayCpu = { if ($relay) { Get-CpuSeconds $relay.Pid } else { 0 } }
                $session = New-VMGuestSession -ConnectionString $target -Name "sweep-$label-$chunk"
                $a0 = Get-CpuSeconds $a.Pid; $m0 = Get-ModuleCpuSeconds; $r0 = & $relayCpu
                $up = Copy-VMGuestFile -Session $session -LocalToGuest -Source $source -Destination (Join-Path $work 'up.bin') -ChunkSize ($chunk * 1KB) -Force -PassThru
                $a1 = Get-CpuSeconds $a.Pid; $m1 = Get-ModuleCpuSeconds; $r1 = & $relayCpu
                $down = Copy-VMGuestFile -Session $session -GuestToLocal -Source $source -Destination (Join-Path $work 'down.bin') -ChunkSize ($chunk * 1KB) -Force -PassThru
                $a2 = Get-CpuSeconds $a.Pid; $m2 = Get-ModuleCpuSeconds; $r2 = & $relayCpu
                $session | Remove-VMGuestSession -Confirm:$false
                $hwm = (Get-ProcessMemory $a.Pid).HwmKiB / 1024
                $cpu = { param($agentCpu, $moduleCpu, $relaySeconds) "$([math]::Round($agentCpu, 2)) / $([math]::Round($moduleCpu, 2))" + $(if ($relay) { " / $([math]::Round($relaySeconds, 2))" } else { '' }) }
                $rows.Add("| $label | $chunk | $([math]::Round($up.Bytes / 1MB / $up.Duration.TotalSeconds, 1)) | $(& $cpu ($a1 - $a0) ($m1 - $m0) ($r1 - $r0)) | $([math]::Round($down.Bytes / 1MB / $down.Duration.TotalSeconds, 1)) | $(& $cpu ($a2 - $a1) ($m2 - $m1) ($r2 - $r1)) | $([math]::Round($hwm, 1)) |")
            }
            finally { $relay | Stop-BenchProcess; $a | Stop-BenchProcess; $env:QEMUGUEST_BULK = $null }
        }
    }
}
finally {
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
$rows.Add('')
$rows.Add("load after: $((Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3)")
$rows -join "`n"
