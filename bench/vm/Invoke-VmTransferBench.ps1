<#
.SYNOPSIS
    Copy-VMGuestFile throughput inside a real QEMU VM (TCG): our agent vs Debian's qemu-ga in the
    same kind of VM and the same run, plus the raw virtio-serial ceiling (no agent, no JSON, no
    base64). Writes bench/vm-transfer.md and prints it (its section of bench/RESULTS.md).
.EXAMPLE
    dotnet pwsh ./build.ps1 Package
    dotnet pwsh -NoProfile -File bench/vm/Invoke-VmTransferBench.ps1 -ModulePath out/QemuGuest
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateSet('Debug', 'Release')] [string] $Configuration = 'Release',
    [ValidateRange(1, 1024)] [int] $SizeMiB = 32,
    [ValidateRange(1, 4194304)] [int] $ChunkSize = 60KB,
    [ValidateRange(1, 4)] [int] $Cpus = 1,
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
function Add-Row([string] $Path, [string] $Direction, [long] $Bytes, [double] $Seconds, [string] $Note = '') {
    $rows.Add([pscustomobject]@{ Path = $Path; Direction = $Direction; MiBps = [math]::Round($Bytes / 1MB / $Seconds, 1); Seconds = [math]::Round($Seconds, 1); Note = $Note })
    Write-Host ("{0,-45} {1,-12} {2,8:N1} MiB/s" -f $Path, $Direction, ($Bytes / 1MB / $Seconds))
}

function Measure-RawPort($Image) {
    # /init in qg.agent=raw mode: waits for one start byte, reads exactly N bytes from the port, answers "got N", then
    # writes N zero bytes back (see Get-E2eInitScript). Timed on this side of the chardev.
    $vm = Start-E2eVm -Image $Image -Agent Raw -RawBytes $bytes -Name 'bench-raw' -MemoryMiB 1024 -Cpus $Cpus
    try {
        $deadline = [DateTime]::UtcNow.AddSeconds(120)
        while (-not ((Test-Path $vm.ConsoleLog) -and (Select-String -Path $vm.ConsoleLog -SimpleMatch 'raw: ready' -Quiet))) {
            if ($vm.Process.HasExited -or [DateTime]::UtcNow -gt $deadline) { throw "E2eRawNotReady: the raw guest did not open its port within 120 s`n$(Get-E2eVmConsole $vm)" }
            Start-Sleep -Milliseconds 100
        }
        $s = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
        $s.ReceiveTimeout = 120000; $s.SendTimeout = 120000
        $s.Connect([Net.Sockets.UnixDomainSocketEndPoint]::new($vm.Socket))
        try {
            $buf = [byte[]]::new(1MB); [Random]::new(3).NextBytes($buf)
            $null = $s.Send([byte[]] @(0x2A))
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
            if ("$line" -ne "got $bytes") { throw "E2eRawCount: the guest answered '$line', expected 'got $bytes'" }
            $clock.Restart()
            $got = 0L
            while ($got -lt $bytes) {
                $n = $s.Receive($buf)
                if ($n -le 0) { throw "E2eRawClosed: the port closed after $got of $bytes bytes" }
                $got += $n
            }
            $down = $clock.Elapsed.TotalSeconds
        }
        finally { $s.Dispose() }
        Add-Row 'virtio-serial port, raw bytes (ceiling)' 'to guest' $bytes $up 'host socket -> guest `dd bs=64k`, no agent'
        Add-Row 'virtio-serial port, raw bytes (ceiling)' 'from guest' $bytes $down 'guest `dd if=/dev/zero bs=64k` -> host socket, no agent'
    }
    finally { $vm | Stop-E2eVm }
}

$work = Join-Path ([IO.Path]::GetTempPath()) ('qg-vmbench-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
$null = New-Item -ItemType Directory -Path $work
$boots = [Collections.Generic.List[string]]::new()
try {
    $image = New-E2eImage -Configuration $Configuration
    $src = Join-Path $work 'src.bin'
    $f = [IO.File]::Create($src)
    $buf = [byte[]]::new(1MB); [Random]::new(1).NextBytes($buf)
    for ($i = 0; $i -lt $SizeMiB; $i++) { $buf[0] = [byte]($i % 256); $f.Write($buf, 0, $buf.Length) }
    $f.Dispose()

    Measure-RawPort $image

    foreach ($kind in 'Stock', 'Ours') {
        $label = if ($kind -eq 'Stock') { "Debian $($image.StockAgent)" } else { 'QemuGuest agent (NativeAOT)' }
        $vm = Start-E2eVm -Image $image -Agent $kind -Name "bench-$($kind.ToLowerInvariant())" -MemoryMiB 1024 -Cpus $Cpus
        try {
            $boots.Add("$label $($vm.BootSeconds) s")
            # 1. A minimal raw client, one request at a time (bench/transfer/raw_qga.py).
            $raw = Join-Path $repo 'bench/transfer/raw_qga.py'
            $out = & python3 $raw $vm.Socket w $ChunkSize $bytes '/tmp/raw.bin'
            if ($LASTEXITCODE -ne 0) { throw "E2eBenchRawClient: raw_qga.py w failed against $label" }
            $n, $sec = $out -split ' '; Add-Row "$label, raw client" 'to guest' $n $sec "python, $($ChunkSize / 1KB) KiB blocks, 1 in flight"
            $out = & python3 $raw $vm.Socket r $ChunkSize 0 '/tmp/raw.bin'
            if ($LASTEXITCODE -ne 0) { throw "E2eBenchRawClient: raw_qga.py r failed against $label" }
            $n, $sec = $out -split ' '; Add-Row "$label, raw client" 'from guest' $n $sec "python, $($ChunkSize / 1KB) KiB blocks, 1 in flight"

            # 2. Copy-VMGuestFile, straight to the VM's chardev socket. Guest side on tmpfs: the
            # agent and the channel are measured, not the emulated disk.
            $session = New-VMGuestSession -ConnectionString $vm.ConnectionString -Name "direct-$kind" -ConnectTimeoutSec 30
            $up = Copy-VMGuestFile -Session $session -LocalToGuest -Source $src -Destination '/tmp/up.bin' -ChunkSize $ChunkSize -Force -PassThru
            # Writes to the stock agent go one at a time (docs/copy.md, Pipelining).
            $inFlight = if ($kind -eq 'Stock') { 1 } else { 4 }
            Add-Row "$label, Copy-VMGuestFile" 'to guest' $up.Bytes $up.Duration.TotalSeconds "$($ChunkSize / 1KB) KiB blocks, $inFlight in flight, atomic=$($up.Atomic)"
            $down = Copy-VMGuestFile -Session $session -GuestToLocal -Source '/tmp/up.bin' -Destination (Join-Path $work "down-$kind.bin") -ChunkSize $ChunkSize -Force -PassThru
            Add-Row "$label, Copy-VMGuestFile" 'from guest' $down.Bytes $down.Duration.TotalSeconds "$($ChunkSize / 1KB) KiB blocks, 4 in flight"
            if ((Get-FileHash $src).Hash -ne (Get-FileHash (Join-Path $work "down-$kind.bin")).Hash) { throw "E2eBenchCorrupt: the round trip through $label changed the file" }
            $session | Remove-VMGuestSession -Confirm:$false
        }
        finally {
            $vm | Stop-E2eVm
            Remove-Item (Join-Path $work "down-$kind.bin") -ErrorAction SilentlyContinue
        }
    }

    $cpu = (Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '.*:\s*', ''
    $load = (Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3
    $qemuVersion = (& qemu-system-x86_64 --version | Select-Object -First 1)
    $md = @"
# Transfer throughput inside a QEMU VM

$SizeMiB MiB each way through a virtio-serial port, one run ($(Get-Date -AsUTC -Format 'yyyy-MM-dd HH:mm') UTC).
Host: $cpu, $([Environment]::ProcessorCount) cores shared with other work; load average during the run: $($load -join ' ').
VM: $qemuVersion, TCG (no KVM), $Cpus vCPU, 1 GiB, ``-cpu max``; guest kernel $($image.KernelPackage),
busybox $($image.Busybox); the tests/e2e image (tests/e2e/E2eVm.psm1). Boot to first sync: $($boots -join ', ').
The guest file is on tmpfs (/tmp), so the emulated disk is not measured.

Command:

``````sh
dotnet pwsh ./build.ps1 Package
dotnet pwsh -NoProfile -File bench/vm/Invoke-VmTransferBench.ps1 -ModulePath out/QemuGuest -SizeMiB $SizeMiB -ChunkSize $ChunkSize -Cpus $Cpus
``````

| path | direction | MiB/s | seconds | notes |
|---|---|---:|---:|---|
$(($rows | ForEach-Object { "| $($_.Path) | $($_.Direction) | $($_.MiBps) | $($_.Seconds) | $($_.Note) |" }) -join "`n")

Reading the table: the ceiling row is the port itself (QEMU's chardev and virtio-serial, the
guest kernel's virtio_console) with nothing parsing the bytes. Every agent row pays for JSON
and base64 in the guest, under TCG's emulated CPU, one request at a time on the agent side.
Copy-VMGuestFile writes to the stock agent one request at a time: qemu-ga 7.2 on virtio-serial
loses replies to pipelined guest-file-write requests (found by tests/e2e).
"@
    Set-Content -Path $ResultFile -Value $md
    Write-Host "wrote $ResultFile"
    $md
}
finally {
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
