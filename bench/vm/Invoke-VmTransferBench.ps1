<#
.SYNOPSIS
    Copy-VMGuestFile throughput inside a real QEMU VM (TCG): our agent with the binary bulk mode
    (QEMUGUEST_BULK=1) and with guest-file-read/write (=0), Debian's qemu-ga, and the raw
    virtio-serial ceiling (no agent, no JSON, no base64), in rounds so that every path sees the
    same host load. Beside each transfer: the guest agent's CPU seconds and read/write system
    calls (its /proc/PID/stat and /proc/PID/io before and after) and QEMU's CPU seconds on the
    host, which say where the guest's time goes. Writes the generated part of
    bench/vm-transfer.md (between its vmbench markers; text outside them is kept) and prints it.
.EXAMPLE
    dotnet pwsh ./build.ps1 Package
    dotnet pwsh -NoProfile -File bench/vm/Invoke-VmTransferBench.ps1 -ModulePath out/QemuGuest -SizeMiB 64 -Rounds 3
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateSet('Debug', 'Release')] [string] $Configuration = 'Release',
    [ValidateRange(1, 1024)] [int] $SizeMiB = 64,
    # qemu-ga moves 0.2-1.5 MiB/s here: a smaller file keeps a round short (rates are per MiB). Default: SizeMiB.
    [ValidateRange(0, 1024)] [int] $StockSizeMiB = 0,
    [ValidateRange(1, 4194304)] [int] $ChunkSize = 60KB,
    [ValidateRange(1, 4)] [int] $Cpus = 1,
    [ValidateRange(1, 20)] [int] $Rounds = 3,
    # Also the minimal python client (bench/transfer/raw_qga.py) against both agents' JSON path:
    # slow under TCG (qemu-ga takes ~1 min per 64 MiB into the guest), so off unless asked.
    [switch] $RawClient,
    # An agent binary other than the NativeAOT one New-E2eImage publishes.
    [string] $AgentBinary,
    # A second build of our agent (e.g. main's, published with dotnet publish -r linux-x64) booted in a
    # VM of its own each round and measured with the bulk mode beside ours: an A/B of agent changes.
    [string] $BaselineAgentBinary,
    [string] $BaselineLabel = 'baseline',
    # Not -OutFile: bench/Invoke-Bench.ps1 would name it after the folder (bench/vm.md).
    [string] $ResultFile = (Join-Path $PSScriptRoot '../vm-transfer.md')
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-StrictMode -Version 3.0
$repo = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
Import-Module (Join-Path $repo 'tests/e2e/E2eVm.psm1') -Force
Import-Module (Resolve-Path $ModulePath).Path -Force

$bytes = [long] $SizeMiB * 1MB
$rows = [Collections.Generic.List[object]]::new()
$loads = [Collections.Generic.List[string]]::new()
$ticks = 100.0 # USER_HZ of /proc/PID/stat, on the host and in the guest kernel alike

function Get-HostCpuSeconds([int] $ProcessId) {
    # utime + stime of a host process (QEMU: every vCPU and I/O thread).
    $f = ((Get-Content -Raw "/proc/$ProcessId/stat") -replace '^.*\) ', '') -split ' '
    return ([long] $f[11] + [long] $f[12]) / $ticks
}

function Get-GuestAgentCounters($Session) {
    # The agent's own counters, read inside the guest by busybox (one guest-exec: it costs the
    # agent a few syscalls, the same for every path). /run/agent.pid is written by /init.
    $r = Invoke-VMGuestCommand -Session $Session sh -ArgumentList '-c', 'p=$(cat /run/agent.pid); cut -d" " -f14,15 /proc/$p/stat; cat /proc/$p/io' -Timeout 120
    if ($r.ExitCode -ne 0) { throw "E2eBenchCounters: reading the guest agent's /proc failed: $($r.StdErr)" }
    $lines = @($r.StdOut -split "`n" | Where-Object { $_ })
    $u, $s = $lines[0] -split ' '
    $io = @{}
    foreach ($l in $lines | Select-Object -Skip 1) { $k, $v = $l -split ':\s*'; $io[$k] = [long] $v }
    [pscustomobject]@{ User = [long] $u / $ticks; System = [long] $s / $ticks; Reads = $io.syscr; Writes = $io.syscw; ReadBytes = $io.rchar; WrittenBytes = $io.wchar }
}

function Add-Row {
    param([int] $Round, [string] $Path, [string] $Direction, [long] $Bytes, [double] $Seconds, [double] $QemuCpu, $Before = $null, $After = $null, [string] $Note = '')
    $row = [ordered]@{
        Round = $Round; Path = $Path; Direction = $Direction; MiBps = $Bytes / 1MB / $Seconds; Seconds = $Seconds; QemuCpu = $QemuCpu
        AgentUser = $null; AgentSystem = $null; Reads = $null; Writes = $null; ReadMiB = $null; WrittenMiB = $null; Note = $Note
    }
    if ($Before -and $After) {
        $row.AgentUser = $After.User - $Before.User; $row.AgentSystem = $After.System - $Before.System
        $row.Reads = $After.Reads - $Before.Reads; $row.Writes = $After.Writes - $Before.Writes
        $row.ReadMiB = ($After.ReadBytes - $Before.ReadBytes) / 1MB; $row.WrittenMiB = ($After.WrittenBytes - $Before.WrittenBytes) / 1MB
    }
    $rows.Add([pscustomobject]$row)
    Write-Host ("round {0} {1,-52} {2,-10} {3,7:N1} MiB/s {4,6:N1} s  qemu cpu {5,5:N1} s  agent cpu {6}+{7} s  reads/writes {8}/{9}  MiB {10:N1}/{11:N1}" -f $Round, $Path, $Direction, $row.MiBps, $Seconds, $QemuCpu, $row.AgentUser, $row.AgentSystem, $row.Reads, $row.Writes, $row.ReadMiB, $row.WrittenMiB)
    # Kept as they come: a later failure (a VM that does not boot on a loaded host) loses no row.
    $rows | ConvertTo-Json | Set-Content (Join-Path $repo 'out/vmbench-rows.json')
}

function Measure-RawPort($Image, [int] $Round) {
    # /init in qg.agent=raw mode: waits for one start byte, reads exactly N bytes from the port, answers "got N", then
    # writes N zero bytes back (see Get-E2eInitScript). Timed on this side of the chardev.
    $vm = Start-E2eVm -Image $Image -Agent Raw -RawBytes $bytes -Name 'bench-raw' -MemoryMiB 1024 -Cpus $Cpus
    try {
        $deadline = [DateTime]::UtcNow.AddSeconds(600)
        while (-not ((Test-Path $vm.ConsoleLog) -and (Select-String -Path $vm.ConsoleLog -SimpleMatch 'raw: ready' -Quiet))) {
            if ($vm.Process.HasExited -or [DateTime]::UtcNow -gt $deadline) { throw "E2eRawNotReady: the raw guest did not open its port within 600 s`n$(Get-E2eVmConsole $vm)" }
            Start-Sleep -Milliseconds 100
        }
        $s = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
        $s.ReceiveTimeout = 120000; $s.SendTimeout = 120000
        $s.Connect([Net.Sockets.UnixDomainSocketEndPoint]::new($vm.Socket))
        try {
            $buf = [byte[]]::new(1MB); [Random]::new(3).NextBytes($buf)
            $null = $s.Send([byte[]] @(0x2A))
            $cpu0 = Get-HostCpuSeconds $vm.Pid
            $clock = [Diagnostics.Stopwatch]::StartNew()
            for ($i = 0; $i -lt $SizeMiB; $i++) { $null = $s.Send($buf) }
            $line = [Text.StringBuilder]::new(); $one = [byte[]]::new(1)
            while ($true) {
                if ($s.Receive($one) -le 0) { throw 'E2eRawClosed: the port closed before the guest answered' }
                if ($one[0] -eq 10) { break }
                $null = $line.Append([char] $one[0])
                if ($line.Length -gt 100) { throw "E2eRawReply: unexpected reply '$line'" }
            }
            $up = $clock.Elapsed.TotalSeconds
            $cpu1 = Get-HostCpuSeconds $vm.Pid
            if ("$line" -ne "got $bytes") { throw "E2eRawCount: the guest answered '$line', expected 'got $bytes'" }
            $clock.Restart()
            $got = 0L
            while ($got -lt $bytes) {
                $n = $s.Receive($buf)
                if ($n -le 0) { throw "E2eRawClosed: the port closed after $got of $bytes bytes" }
                $got += $n
            }
            $down = $clock.Elapsed.TotalSeconds
            $cpu2 = Get-HostCpuSeconds $vm.Pid
        }
        finally { $s.Dispose() }
        Add-Row $Round 'virtio-serial port, raw bytes (ceiling)' 'to guest' $bytes $up ($cpu1 - $cpu0) -Note 'host socket -> guest `dd bs=64k`, no agent'
        Add-Row $Round 'virtio-serial port, raw bytes (ceiling)' 'from guest' $bytes $down ($cpu2 - $cpu1) -Note 'guest `dd if=/dev/zero bs=64k` -> host socket, no agent'
    }
    finally { $vm | Stop-E2eVm }
}

function Measure-Copy($Vm, $Session, [int] $Round, [string] $Label, [string] $Bulk, [string] $Note, [string] $Source = $src, [string] $SourceHash = $srcHash) {
    # One copy each way with QEMUGUEST_BULK as given (the engine reads it per copy).
    $env:QEMUGUEST_BULK = $Bulk
    $expected = (Get-Item $Source).Length
    $local = Join-Path $work "down-$Round.bin"
    try {
        $c0 = Get-GuestAgentCounters $Session; $q0 = Get-HostCpuSeconds $Vm.Pid
        $up = Copy-VMGuestFile -Session $Session -LocalToGuest -Source $Source -Destination '/tmp/up.bin' -ChunkSize $ChunkSize -Force -PassThru
        $q1 = Get-HostCpuSeconds $Vm.Pid; $c1 = Get-GuestAgentCounters $Session
        Add-Row $Round $Label 'to guest' $up.Bytes $up.Duration.TotalSeconds ($q1 - $q0) $c0 $c1 "$Note, atomic=$($up.Atomic)"
        $c1 = Get-GuestAgentCounters $Session; $q1 = Get-HostCpuSeconds $Vm.Pid
        $down = Copy-VMGuestFile -Session $Session -GuestToLocal -Source '/tmp/up.bin' -Destination $local -ChunkSize $ChunkSize -Force -PassThru
        $q2 = Get-HostCpuSeconds $Vm.Pid; $c2 = Get-GuestAgentCounters $Session
        Add-Row $Round $Label 'from guest' $down.Bytes $down.Duration.TotalSeconds ($q2 - $q1) $c1 $c2 $Note
        if ($up.Bytes -ne $expected -or $down.Bytes -ne $expected) { throw "E2eBenchShort: $Label moved $($up.Bytes) / $($down.Bytes) of $expected bytes" }
        if ($SourceHash -ne (Get-FileHash $local).Hash) { throw "E2eBenchCorrupt: the round trip through $Label changed the file" }
        return $c0, $c1, $c2
    }
    finally {
        Remove-Item $local -ErrorAction SilentlyContinue
        Remove-Item Env:QEMUGUEST_BULK -ErrorAction SilentlyContinue
    }
}

$work = Join-Path ([IO.Path]::GetTempPath()) ('qg-vmbench-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
$null = New-Item -ItemType Directory -Path $work
$boots = [Collections.Generic.List[string]]::new()
$started = [DateTime]::UtcNow
$savedBulk = $env:QEMUGUEST_BULK
try {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $image = if ($AgentBinary) { New-E2eImage -Configuration $Configuration -AgentBinary (Resolve-Path $AgentBinary).Path } else { New-E2eImage -Configuration $Configuration }
    # New-E2eImage writes every image to the same initramfs path: keep this one's aside.
    $image.Initrd = (Copy-Item $image.Initrd (Join-Path $work 'initramfs.cpio') -PassThru).FullName
    $kinds = @('Stock', 'Ours')
    if ($BaselineAgentBinary) {
        $baseImage = New-E2eImage -Configuration $Configuration -AgentBinary (Resolve-Path $BaselineAgentBinary).Path
        $baseImage.Initrd = (Copy-Item $baseImage.Initrd (Join-Path $work 'initramfs-baseline.cpio') -PassThru).FullName
        $kinds += 'Baseline'
    }
    $imageSeconds = [math]::Round($clock.Elapsed.TotalSeconds)
    Write-Host "image ready in $imageSeconds s"
    $src = Join-Path $work 'src.bin'
    $f = [IO.File]::Create($src)
    $buf = [byte[]]::new(1MB); [Random]::new(1).NextBytes($buf)
    for ($i = 0; $i -lt $SizeMiB; $i++) { $buf[0] = [byte]($i % 256); $f.Write($buf, 0, $buf.Length) }
    $f.Dispose()
    $srcHash = (Get-FileHash $src).Hash
    if ($StockSizeMiB -le 0 -or $StockSizeMiB -ge $SizeMiB) { $StockSizeMiB = $SizeMiB; $stockSrc = $src }
    else {
        $stockSrc = Join-Path $work 'stock.bin'
        $f = [IO.File]::Create($stockSrc); $f.Write([IO.File]::ReadAllBytes($src), 0, $StockSizeMiB * 1MB); $f.Dispose()
    }
    $stockHash = (Get-FileHash $stockSrc).Hash
    $ours = 'QemuGuest agent (NativeAOT)'

    for ($round = 1; $round -le $Rounds; $round++) {
        $loads.Add(((Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3) -join ' ')
        Measure-RawPort $image $round
        # Ours and the baseline alternate which boots first.
        $order = @($kinds); if (-not ($round % 2)) { [array]::Reverse($order) }
        foreach ($kind in $order) {
            $label = switch ($kind) { 'Stock' { "Debian $($image.StockAgent)" } 'Ours' { $ours } 'Baseline' { "QemuGuest agent ($BaselineLabel)" } }
            $vmImage = if ($kind -eq 'Baseline') { $baseImage } else { $image }
            $vm = Start-E2eVm -Image $vmImage -Agent ($kind -eq 'Stock' ? 'Stock' : 'Ours') -Name "bench-$($kind.ToLowerInvariant())" -MemoryMiB 1024 -Cpus $Cpus -BootTimeoutSec 600
            try {
                $boots.Add("$label $($vm.BootSeconds) s")
                if ($RawClient) {
                    $raw = Join-Path $repo 'bench/transfer/raw_qga.py'
                    $q0 = Get-HostCpuSeconds $vm.Pid
                    $out = & python3 $raw $vm.Socket w $ChunkSize $bytes '/tmp/raw.bin'
                    if ($LASTEXITCODE -ne 0) { throw "E2eBenchRawClient: raw_qga.py w failed against $label" }
                    $q1 = Get-HostCpuSeconds $vm.Pid
                    $n, $sec = $out -split ' '; Add-Row $round "$label, raw client" 'to guest' $n $sec ($q1 - $q0) -Note "python, $($ChunkSize / 1KB) KiB blocks, 1 in flight"
                    $out = & python3 $raw $vm.Socket r $ChunkSize 0 '/tmp/raw.bin'
                    if ($LASTEXITCODE -ne 0) { throw "E2eBenchRawClient: raw_qga.py r failed against $label" }
                    $q2 = Get-HostCpuSeconds $vm.Pid
                    $n, $sec = $out -split ' '; Add-Row $round "$label, raw client" 'from guest' $n $sec ($q2 - $q1) -Note "python, $($ChunkSize / 1KB) KiB blocks, 1 in flight"
                }
                # Straight to the VM's chardev socket. Guest side on tmpfs: the agent and the
                # channel are measured, not the emulated disk.
                $session = New-VMGuestSession -ConnectionString $vm.ConnectionString -Name "direct-$kind" -ConnectTimeoutSec 30
                if ($kind -eq 'Baseline') {
                    $null = Measure-Copy $vm $session $round "$label, Copy-VMGuestFile, bulk" '1' '1 MiB frames (QEMUGUEST_BULK=1)'
                }
                elseif ($kind -eq 'Stock') {
                    # Writes to the stock agent go one at a time (docs/copy.md, Pipelining).
                    $null = Measure-Copy $vm $session $round "$label, Copy-VMGuestFile" '0' "$($ChunkSize / 1KB) KiB blocks, 1 in flight in / 4 out, $StockSizeMiB MiB" $stockSrc $stockHash
                }
                else {
                    # Which of the two goes first alternates by round.
                    $modes = if ($round % 2) { '1', '0' } else { '0', '1' }
                    foreach ($m in $modes) {
                        if ($m -eq '1') { $null = Measure-Copy $vm $session $round "$ours, Copy-VMGuestFile, bulk" '1' '1 MiB frames (QEMUGUEST_BULK=1)' }
                        else { $null = Measure-Copy $vm $session $round "$ours, Copy-VMGuestFile, JSON" '0' "$($ChunkSize / 1KB) KiB blocks, 4 in flight (QEMUGUEST_BULK=0)" }
                    }
                }
                $session | Remove-VMGuestSession -Confirm:$false
            }
            finally { $vm | Stop-E2eVm }
        }
    }
    $loads.Add(((Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3) -join ' ')

    function Format-Number($Value, [string] $Format = 'N1') { if ($null -eq $Value) { '' } else { $Value.ToString($Format, [Globalization.CultureInfo]::InvariantCulture) } }
    # Summary: per path and direction, the median of the rounds and the range, and the median
    # of each round's ratio to that round's raw port.
    $raw = @{}
    foreach ($r in $rows | Where-Object Path -Like 'virtio-serial port*') { $raw["$($r.Round)|$($r.Direction)"] = $r.MiBps }
    function Get-Median([double[]] $Values) { $s = @($Values | Sort-Object); if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }
    $summary = foreach ($g in $rows | Group-Object Path, Direction) {
        $first = $g.Group[0]
        $rates = @($g.Group | ForEach-Object MiBps)
        $ratios = @($g.Group | ForEach-Object { 100 * $_.MiBps / $raw["$($_.Round)|$($_.Direction)"] })
        "| $($first.Path) | $($first.Direction) | $(Format-Number (Get-Median $rates)) | $(Format-Number ($rates | Measure-Object -Minimum).Minimum)-$(Format-Number ($rates | Measure-Object -Maximum).Maximum) | $(Format-Number (Get-Median $ratios) 'N0') % | $($first.Note) |"
    }
    $detail = foreach ($r in $rows) {
        $cpuAgent = if ($null -ne $r.AgentUser) { "$(Format-Number $r.AgentUser 'N2') + $(Format-Number $r.AgentSystem 'N2')" } else { '' }
        $syscalls = if ($null -ne $r.Reads) { "$($r.Reads) / $($r.Writes)" } else { '' }
        $ioMiB = if ($null -ne $r.ReadMiB) { "$(Format-Number $r.ReadMiB) / $(Format-Number $r.WrittenMiB)" } else { '' }
        "| $($r.Round) | $($r.Path) | $($r.Direction) | $(Format-Number $r.MiBps) | $(Format-Number $r.Seconds) | $(Format-Number $r.QemuCpu) | $cpuAgent | $syscalls | $ioMiB |"
    }

    $cpu = (Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '.*:\s*', ''
    $qemuVersion = (& qemu-system-x86_64 --version | Select-Object -First 1)
    $command = "dotnet pwsh -NoProfile -File bench/vm/Invoke-VmTransferBench.ps1 -ModulePath out/QemuGuest -SizeMiB $SizeMiB$(if ($StockSizeMiB -ne $SizeMiB) { " -StockSizeMiB $StockSizeMiB" }) -ChunkSize $ChunkSize -Cpus $Cpus -Rounds $Rounds$(if ($RawClient) { ' -RawClient' })$(if ($BaselineAgentBinary) { " -BaselineAgentBinary $BaselineAgentBinary -BaselineLabel '$BaselineLabel'" })"
    $generated = @"
<!-- vmbench:begin (written by bench/vm/Invoke-VmTransferBench.ps1; text outside these markers is kept) -->
$SizeMiB MiB each way through a virtio-serial port, $Rounds rounds ($(Get-Date $started -AsUTC -Format 'yyyy-MM-dd HH:mm') UTC, $([math]::Round(([DateTime]::UtcNow - $started).TotalMinutes)) min;
image built or reused in $imageSeconds s). Each round boots a raw-port VM, a qemu-ga VM and a VM with our agent;
ours copies with QEMUGUEST_BULK=1 and =0 in turn (which goes first alternates by round).
Host: $cpu, $([Environment]::ProcessorCount) cores shared with other work; load average (1/5/15 min) at each round's start and at the end: $($loads -join '; ').
VM: $qemuVersion, TCG (no KVM), $Cpus vCPU, 1 GiB, ``-cpu max``; guest kernel $($image.KernelPackage),
busybox $($image.Busybox); the tests/e2e image (tests/e2e/E2eVm.psm1). Boot to first sync: $($boots -join ', ').
The guest file is on tmpfs (/tmp), so the emulated disk is not measured.

Command:

``````sh
dotnet pwsh ./build.ps1 Package
$command
``````

| path | direction | MiB/s (median) | range | of raw port (median of rounds) | notes |
|---|---|---:|---:|---:|---|
$($summary -join "`n")

Every transfer: QEMU's CPU seconds on the host (all its threads), the guest agent's user + system
CPU seconds and its read / write system calls and MiB (its /proc/PID/stat and /proc/PID/io in
the guest; port and file together, plus one guest-exec that reads them).

| round | path | direction | MiB/s | s | QEMU CPU s | agent CPU s (user + sys) | agent reads / writes | agent read / written MiB |
|---|---|---|---:|---:|---:|---:|---:|---:|
$($detail -join "`n")
<!-- vmbench:end -->
"@
    $existing = if (Test-Path $ResultFile) { Get-Content -Raw $ResultFile } else { '' }
    $pattern = '(?s)<!-- vmbench:begin.*?<!-- vmbench:end -->'
    $text = if ($existing -match $pattern) { [regex]::Replace($existing, $pattern, { param($m) $generated }) } else { "# Transfer throughput inside a QEMU VM`n`n$generated`n" }
    Set-Content -Path $ResultFile -Value $text.TrimEnd()
    Write-Host "wrote $ResultFile"
    $generated
}
finally {
    $env:QEMUGUEST_BULK = $savedBulk
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
