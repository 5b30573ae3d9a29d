# Shared by the bench/<area>/Invoke-*Bench.ps1 scripts: agents and relays as real processes on
# temporary sockets, memory read from /proc, the socket probes, and the row shape that
# bench/Invoke-Bench.ps1 turns into the RESULTS.md table. Every wait is bounded; every process
# is stopped by its own pid.

Set-StrictMode -Version 3.0

$script:RepoRoot = Split-Path $PSScriptRoot -Parent

function Get-BenchToolPath {
    param([string] $Configuration = 'Release')
    $dll = Join-Path $script:RepoRoot "bench/QemuGuest.Benchmarks/bin/$Configuration/net10.0/QemuGuest.Benchmarks.dll"
    if (-not (Test-Path $dll)) { throw "bench tool not built: $dll (dotnet build bench/QemuGuest.Benchmarks -c $Configuration)" }
    $dll
}

function Invoke-BenchProbe {
    <# Runs one socket probe of QemuGuest.Benchmarks (ceiling, ping, pingceiling); returns its JSON line as an object. #>
    param([Parameter(Mandatory)] [string] $ToolPath, [Parameter(Mandatory)] [string[]] $Arguments)
    $out = & dotnet $ToolPath @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw "probe '$($Arguments -join ' ')' failed ($LASTEXITCODE): $out" }
    ($out | Select-Object -Last 1) | ConvertFrom-Json
}

function Get-RelayPath {
    param([string] $Configuration = 'Release')
    $dll = Join-Path $script:RepoRoot "src/QemuGuest.Relay/bin/$Configuration/net10.0/qemuguest-relay.dll"
    if (-not (Test-Path $dll)) { throw "relay not built: $dll (dotnet build src/QemuGuest.Relay -c $Configuration)" }
    $dll
}

function Get-StockAgentVersion {
    $v = & /usr/sbin/qemu-ga -V 2>&1 | Select-Object -First 1
    ($v -split ' ')[-1]
}

function Start-BenchAgent {
    <#
    .SYNOPSIS
        Starts Debian's qemu-ga or ours (a NativeAOT binary, or the JIT dll through dotnet) in
        unix-listen mode and waits at most 15 s for its socket.
    #>
    param(
        [ValidateSet('Stock', 'Ours')] [string] $Kind,
        # Ours: the agent binary or .dll.
        [string] $AgentPath,
        # Where the socket goes; default: a fresh temporary directory.
        [string] $Socket
    )
    $dir = Join-Path ([IO.Path]::GetTempPath()) ('qg-bench-agent-' + [guid]::NewGuid().ToString('n').Substring(0, 12))
    $null = New-Item -ItemType Directory -Path $dir
    if (-not $Socket) { $Socket = Join-Path $dir 'qga.sock' }
    if ($AgentPath) { $AgentPath = (Resolve-Path $AgentPath).Path }
    $psi = if ($Kind -eq 'Stock') {
        [Diagnostics.ProcessStartInfo]::new('/usr/sbin/qemu-ga')
    }
    elseif ($AgentPath -like '*.dll') {
        $p = [Diagnostics.ProcessStartInfo]::new('dotnet'); $p.ArgumentList.Add($AgentPath); $p
    }
    else {
        [Diagnostics.ProcessStartInfo]::new($AgentPath)
    }
    foreach ($a in @('-m', 'unix-listen', '-p', $Socket, '-t', $dir, '-l', (Join-Path $dir 'agent.log'))) { $psi.ArgumentList.Add($a) }
    # The agents log little; their output goes to the log file, not to pipes nobody drains.
    $psi.RedirectStandardOutput = $false
    $psi.RedirectStandardError = $false
    $psi.UseShellExecute = $false
    # Its own working directory: relative guest paths then land in a directory of its own,
    # which lets many local agents stand in for many VMs with one destination path.
    $psi.WorkingDirectory = $dir
    $proc = [Diagnostics.Process]::Start($psi)
    $deadline = [DateTime]::UtcNow.AddSeconds(15)
    while (-not (Test-Path $Socket)) {
        if ($proc.HasExited) { throw "$Kind agent ($($psi.FileName)) exited with $($proc.ExitCode) before creating $Socket" }
        if ([DateTime]::UtcNow -gt $deadline) { $proc.Kill(); throw "$Kind agent did not create $Socket within 15 s" }
        Start-Sleep -Milliseconds 10
    }
    [pscustomobject]@{ Kind = $Kind; Process = $proc; Pid = $proc.Id; Socket = $Socket; ConnectionString = "unix:$Socket"; Directory = $dir }
}

function Stop-BenchProcess {
    <# Stops agents or relays started here (objects with .Process and optionally .Directory). #>
    param([Parameter(ValueFromPipeline)] $Item)
    process {
        if ($null -eq $Item) { return }
        try {
            if (-not $Item.Process.HasExited) { $Item.Process.Kill($true); $null = $Item.Process.WaitForExit(10000) }
        }
        finally {
            if ($Item.PSObject.Properties['Directory'] -and $Item.Directory) { Remove-Item -Recurse -Force $Item.Directory -ErrorAction SilentlyContinue }
        }
    }
}

function Start-BenchRelay {
    <#
    .SYNOPSIS
        Starts the relay on a fresh runtime directory, fed either explicit VMs (name -> agent
        socket) or a discovery directory; waits (at most -TimeoutSeconds) until every expected
        endpoint socket exists.
    #>
    param(
        [Parameter(Mandatory)] [string] $RelayPath,
        [hashtable] $Vms = @{},
        [string] $DiscoveryDirectory,
        [string[]] $ExpectVms = @(),
        [int] $TimeoutSeconds = 30
    )
    $dir = Join-Path ([IO.Path]::GetTempPath()) ('qg-bench-relay-' + [guid]::NewGuid().ToString('n').Substring(0, 12))
    $null = New-Item -ItemType Directory -Path $dir
    $runtime = Join-Path $dir 'run'
    $relayArgs = @($RelayPath, "--Relay:RuntimeDirectory=$runtime", '--Logging:LogLevel:Default=Warning')
    foreach ($k in $Vms.Keys) { $relayArgs += "--Relay:Vms:${k}:Agent=$($Vms[$k])" }
    if ($DiscoveryDirectory) { $relayArgs += "--Relay:Discovery:Directories:0=$DiscoveryDirectory" }
    $proc = Start-Process dotnet -ArgumentList $relayArgs -PassThru -RedirectStandardOutput (Join-Path $dir 'relay.out') -RedirectStandardError (Join-Path $dir 'relay.err')
    $names = @($Vms.Keys) + $ExpectVms
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while (@($names | Where-Object { -not (Test-Path (Join-Path $runtime "$_.sock")) }).Count -gt 0) {
        if ($proc.HasExited) { throw "relay exited with $($proc.ExitCode): $(Get-Content -Raw (Join-Path $dir 'relay.err') -ErrorAction SilentlyContinue)" }
        if ([DateTime]::UtcNow -gt $deadline) { $proc.Kill($true); throw "relay did not create the endpoints of $($names.Count) VMs in $runtime within $TimeoutSeconds s" }
        Start-Sleep -Milliseconds 50
    }
    [pscustomobject]@{ Process = $proc; Pid = $proc.Id; RuntimeDirectory = $runtime; Directory = $dir }
}

function Get-ProcessMemory {
    <# Current and peak resident set (VmRSS, VmHWM) of a live process, in KiB. #>
    param([Parameter(Mandatory)] [int] $ProcessId)
    $status = Get-Content "/proc/$ProcessId/status" -ErrorAction Stop
    $get = { param($key) [long](($status | Where-Object { $_ -like "${key}:*" }) -replace '\D', '') }
    [pscustomobject]@{ RssKiB = & $get 'VmRSS'; HwmKiB = & $get 'VmHWM' }
}

function Get-Median {
    param([double[]] $Values)
    $s = @($Values | Sort-Object)
    if ($s.Count -eq 0) { return [double]::NaN }
    if ($s.Count % 2) { return $s[[int][math]::Floor($s.Count / 2)] }
    ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2
}

function New-BenchRow {
    <#
    .SYNOPSIS
        One line of the RESULTS.md table. Ours/Stock/Ceiling are numbers in Unit (or $null when
        there is nothing to compare); the ratio is computed here, once, as ours / stock.
    #>
    param(
        [Parameter(Mandatory)] [string] $Area,
        [Parameter(Mandatory)] [string] $What,
        [Parameter(Mandatory)] [string] $Unit,
        $Ours, $Stock, $Ceiling,
        [ValidateSet('higher', 'lower')] [string] $Better = 'higher',
        [Parameter(Mandatory)] [string] $Command,
        [string] $OursLabel, [string] $StockLabel, [string] $CeilingLabel
    )
    $ratio = if ($null -ne $Ours -and $null -ne $Stock -and [double]$Stock -ne 0) { [double]$Ours / [double]$Stock } else { $null }
    [pscustomobject]@{
        PSTypeName = 'QemuGuest.BenchRow'
        Area = $Area; What = $What; Unit = $Unit; Better = $Better; Command = $Command
        Ours = $Ours; Stock = $Stock; Ceiling = $Ceiling; Ratio = $ratio
        OursLabel = $OursLabel; StockLabel = $StockLabel; CeilingLabel = $CeilingLabel
    }
}

function Format-BenchNumber {
    param($Value)
    if ($null -eq $Value) { return '—' }
    if ($Value -is [string]) { return $Value }
    $d = [double]$Value
    if ([math]::Abs($d) -ge 100) { return $d.ToString('N0', [Globalization.CultureInfo]::InvariantCulture) }
    if ([math]::Abs($d) -ge 10) { return $d.ToString('0.0', [Globalization.CultureInfo]::InvariantCulture) }
    $d.ToString('0.##', [Globalization.CultureInfo]::InvariantCulture)
}

function New-BenchData {
    <# Random-looking bytes (base64 costs the same for any content; random defeats nothing sparse). #>
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [long] $Bytes)
    $f = [IO.File]::Create($Path)
    try {
        $buf = [byte[]]::new([math]::Min($Bytes, 1MB)); [Random]::new(1).NextBytes($buf)
        for ($left = $Bytes; $left -gt 0; $left -= $buf.Length) {
            $buf[0] = [byte]($left % 251)
            $f.Write($buf, 0, [int][math]::Min($left, $buf.Length))
        }
    }
    finally { $f.Dispose() }
}

Export-ModuleMember -Function Get-BenchToolPath, Invoke-BenchProbe, Get-RelayPath, Get-StockAgentVersion, Start-BenchAgent, Stop-BenchProcess, Start-BenchRelay, Get-ProcessMemory, Get-Median, New-BenchRow, Format-BenchNumber, New-BenchData
