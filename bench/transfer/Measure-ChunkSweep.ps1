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
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    # Label -> agent binary (or .dll); an empty path is Debian's qemu-ga.
    [Parameter(Mandatory)] [hashtable] $Agent,
    [int] $SizeMiB = 256,
    [int[]] $ChunkKiB = @(60, 1024, 4096, 16384),
    # Labels whose copies keep guest-file-read/write (QEMUGUEST_BULK=0) even when the agent
    # offers the binary bulk mode, so both paths are measured in one run.
    [string[]] $NoBulk = @()
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
$rows.Add('| agent | block KiB | to guest MiB/s | agent / module CPU s | from guest MiB/s | agent / module CPU s | agent peak RSS MiB |')
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
            # The bulk mode is off by default (see docs/copy.md): on for every label but these.
            $env:QEMUGUEST_BULK = if ($label -in $NoBulk) { '0' } else { '1' }
            try {
                $session = New-VMGuestSession -ConnectionString $a.ConnectionString -Name "sweep-$label-$chunk"
                $a0 = Get-CpuSeconds $a.Pid; $m0 = Get-ModuleCpuSeconds
                $up = Copy-VMGuestFile -Session $session -LocalToGuest -Source $source -Destination (Join-Path $work 'up.bin') -ChunkSize ($chunk * 1KB) -Force -PassThru
                $a1 = Get-CpuSeconds $a.Pid; $m1 = Get-ModuleCpuSeconds
                $down = Copy-VMGuestFile -Session $session -GuestToLocal -Source $source -Destination (Join-Path $work 'down.bin') -ChunkSize ($chunk * 1KB) -Force -PassThru
                $a2 = Get-CpuSeconds $a.Pid; $m2 = Get-ModuleCpuSeconds
                $session | Remove-VMGuestSession -Confirm:$false
                $hwm = (Get-ProcessMemory $a.Pid).HwmKiB / 1024
                $cpu = { param($agentCpu, $moduleCpu) "$([math]::Round($agentCpu, 2)) / $([math]::Round($moduleCpu, 2))" }
                $rows.Add("| $label | $chunk | $([math]::Round($up.Bytes / 1MB / $up.Duration.TotalSeconds, 1)) | $(& $cpu ($a1 - $a0) ($m1 - $m0)) | $([math]::Round($down.Bytes / 1MB / $down.Duration.TotalSeconds, 1)) | $(& $cpu ($a2 - $a1) ($m2 - $m1)) | $([math]::Round($hwm, 1)) |")
            }
            finally { $a | Stop-BenchProcess; $env:QEMUGUEST_BULK = $null }
        }
    }
}
finally {
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
$rows.Add('')
$rows.Add("load after: $((Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3)")
$rows -join "`n"
