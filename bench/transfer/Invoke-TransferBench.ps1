<#
.SYNOPSIS
    Throughput of a 1 GiB copy each way: Copy-VMGuestFile against Debian's qemu-ga (and our
    agent when built), a minimal raw client against qemu-ga, and the raw unix-socket ceiling,
    all on this machine in one run. Writes bench/transfer.md.
.EXAMPLE
    dotnet pwsh ./build.ps1 Package
    dotnet pwsh -NoProfile -File bench/transfer/Invoke-TransferBench.ps1 -ModulePath out/QemuGuest
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [int] $SizeMiB = 1024,
    [int] $ChunkSize = 60KB,
    [string] $OutFile = (Join-Path $PSScriptRoot '../transfer.md')
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-StrictMode -Version 3.0
$repo = Resolve-Path (Join-Path $PSScriptRoot '../..')
Import-Module (Join-Path $repo 'tools/LocalAgent.psm1') -Force
Import-Module (Resolve-Path $ModulePath).Path -Force

$work = Join-Path ([IO.Path]::GetTempPath()) ('qg-bench-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
$null = New-Item -ItemType Directory -Path $work
$bytes = [long] $SizeMiB * 1MB
$rows = [Collections.Generic.List[object]]::new()
function Add-Row([string] $Path, [string] $Direction, [long] $Bytes, [double] $Seconds, [string] $Note = '') {
    $rows.Add([pscustomobject]@{ Path = $Path; Direction = $Direction; MiBps = [math]::Round($Bytes / 1MB / $Seconds, 1); Seconds = [math]::Round($Seconds, 1); Note = $Note })
    Write-Host ("{0,-40} {1,-12} {2,8:N1} MiB/s" -f $Path, $Direction, ($Bytes / 1MB / $Seconds))
}

try {
    # Incompressible-looking data (sparse zeros would flatter nothing here: base64 costs the same).
    $src = Join-Path $work 'src.bin'
    $f = [IO.File]::Create($src)
    $buf = [byte[]]::new(1MB); [Random]::new(1).NextBytes($buf)
    for ($i = 0; $i -lt $SizeMiB; $i++) { $buf[0] = [byte]($i % 256); $f.Write($buf, 0, $buf.Length) }
    $f.Dispose()

    # 1. Ceiling: raw bytes through a unix socket (socat to /dev/null), no JSON, no base64.
    $sock = Join-Path $work 'ceiling.sock'
    $server = Start-Process socat -ArgumentList '-u', "UNIX-LISTEN:$sock", 'OPEN:/dev/null' -PassThru
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    while (-not (Test-Path $sock) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
    $client = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
    $client.Connect([Net.Sockets.UnixDomainSocketEndPoint]::new($sock))
    $clock = [Diagnostics.Stopwatch]::StartNew()
    for ($i = 0; $i -lt $SizeMiB; $i++) { $null = $client.Send($buf) }
    $client.Shutdown('Send'); $client.Dispose()
    $null = $server.WaitForExit(60000)
    Add-Row 'unix socket, raw bytes (ceiling)' 'one way' $bytes $clock.Elapsed.TotalSeconds 'socat -u UNIX-LISTEN OPEN:/dev/null'

    $kinds = @('Stock') + @(if (Get-OurAgentPath) { 'Ours' })
    foreach ($kind in $kinds) {
        $label = if ($kind -eq 'Stock') { "Debian qemu-ga $(((& /usr/sbin/qemu-ga -V) -split ' ')[-1])" } else { 'QemuGuest agent' }
        if ($kind -eq 'Stock') {
            # 2. Minimal raw client (one request at a time) against the stock agent.
            $agent = Start-LocalAgent -Kind $kind
            try {
                $out = & python3 (Join-Path $PSScriptRoot 'raw_qga.py') $agent.Socket w $ChunkSize $bytes (Join-Path $work 'raw.bin')
                $n, $s = $out -split ' '; Add-Row "$label, raw client" 'to guest' $n $s "python, $($ChunkSize / 1KB) KiB blocks"
                $out = & python3 (Join-Path $PSScriptRoot 'raw_qga.py') $agent.Socket r $ChunkSize 0 (Join-Path $work 'raw.bin')
                $n, $s = $out -split ' '; Add-Row "$label, raw client" 'from guest' $n $s "python, $($ChunkSize / 1KB) KiB blocks"
            }
            finally { $agent | Stop-LocalAgent; Remove-Item (Join-Path $work 'raw.bin') -ErrorAction SilentlyContinue }
        }
        # 3. Copy-VMGuestFile.
        $agent = Start-LocalAgent -Kind $kind
        try {
            $session = New-VMGuestSession -ConnectionString $agent.ConnectionString -Name "bench-$kind"
            $up = Copy-VMGuestFile -Session $session -LocalToGuest -Source $src -Destination (Join-Path $work "up-$kind.bin") -ChunkSize $ChunkSize -PassThru
            Add-Row "$label, Copy-VMGuestFile" 'to guest' $up.Bytes $up.Duration.TotalSeconds "$($ChunkSize / 1KB) KiB blocks, 4 in flight, atomic=$($up.Atomic)"
            $down = Copy-VMGuestFile -Session $session -GuestToLocal -Source (Join-Path $work "up-$kind.bin") -Destination (Join-Path $work "down-$kind.bin") -ChunkSize $ChunkSize -PassThru
            Add-Row "$label, Copy-VMGuestFile" 'from guest' $down.Bytes $down.Duration.TotalSeconds "$($ChunkSize / 1KB) KiB blocks, 4 in flight"
            $session | Remove-VMGuestSession -Confirm:$false
        }
        finally {
            $agent | Stop-LocalAgent
            Remove-Item (Join-Path $work "up-$kind.bin"), (Join-Path $work "down-$kind.bin") -ErrorAction SilentlyContinue
        }
    }

    $cpu = (Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '.*:\s*', ''
    $load = (Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3
    $md = @"
# Transfer throughput

$SizeMiB MiB each way, this machine, one run ($(Get-Date -AsUTC -Format 'yyyy-MM-dd HH:mm') UTC).
CPU: $cpu, $([Environment]::ProcessorCount) cores; load average during the run: $($load -join ' ').

Command:

``````sh
dotnet pwsh ./build.ps1 Package
dotnet pwsh -NoProfile -File bench/transfer/Invoke-TransferBench.ps1 -ModulePath out/QemuGuest -SizeMiB $SizeMiB -ChunkSize $ChunkSize
``````

| path | direction | MiB/s | seconds | notes |
|---|---|---:|---:|---|
$(($rows | ForEach-Object { "| $($_.Path) | $($_.Direction) | $($_.MiBps) | $($_.Seconds) | $($_.Note) |" }) -join "`n")

Reading the table: the stock agent parses every request's JSON and base64 in one thread, so
it — not the client or the socket — sets the pace; compare Copy-VMGuestFile with the raw
client on the same agent to see the module's own overhead (atomic temporary file + rename
through guest-exec, pipelining, progress).
"@
    Set-Content -Path $OutFile -Value $md
    Write-Host "wrote $OutFile"
}
finally {
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
