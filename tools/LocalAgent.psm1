# Local agents for the demo and the Pester suites: Debian's qemu-ga, ours, or the hostile agent
# program (tests/QemuGuest.HostileAgent, for where the guest must lie), on a temporary socket,
# standing in for a VM's chardev. Every wait is bounded; agents are stopped by their own pid.

Set-StrictMode -Version 3.0

function Get-OurAgentPath {
    $root = Split-Path $PSScriptRoot -Parent
    $dll = Join-Path $root 'src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll'
    if (Test-Path $dll) { return $dll }
    return $null
}

function Get-HostileAgentPath {
    $root = Split-Path $PSScriptRoot -Parent
    Join-Path $root 'tests/QemuGuest.HostileAgent/bin/Release/net10.0/QemuGuest.HostileAgent.dll'
}

function Start-LocalAgent {
    <#
    .SYNOPSIS
        Starts an agent on a fresh temporary socket and waits (at most 20 s) until it accepts.
    #>
    param(
        [ValidateSet('Stock', 'Ours', 'Hostile', 'Wine')] [string] $Kind = 'Stock',
        [string[]] $ExtraArguments = @(),
        # A folder the agent sees as an empty private tmpfs (a mount namespace of its own; Linux,
        # root): what the "guest" writes there never reaches the host's folder of that name, so
        # documentation can show real guest paths (/srv/app) and still run on a build machine.
        [string] $PrivateFolder,
        # Hostile only: its first mode. It re-reads the mode before every request from the
        # returned object's ModeFile, so a test turns it hostile and back without a restart.
        [string] $Mode = 'normal',
        # Where the socket goes, for a test that plants an agent at a given path (default: in
        # the agent's own temporary folder).
        [string] $Socket,
        # The agent as an unprivileged user sees files: root without the capabilities that let
        # it read and search any folder (setpriv, util-linux), so a mode 000 folder is refused.
        [switch] $WithoutFileCapabilities
    )
    if ($Kind -eq 'Wine') { return Start-WineAgent -ExtraArguments $ExtraArguments }
    $dir = Join-Path ([IO.Path]::GetTempPath()) ("qg-agent-" + [guid]::NewGuid().ToString('n').Substring(0, 12))
    $null = New-Item -ItemType Directory -Path $dir
    $socketPath = if ($Socket) { $Socket } else { Join-Path $dir 'qga.sock' }
    $state = Join-Path $dir 'state'
    $null = New-Item -ItemType Directory -Path $state
    $log = Join-Path $dir 'agent.log'
    $modeFile = $null

    $psi = switch ($Kind) {
        'Stock' {
            $exe = '/usr/sbin/qemu-ga'
            if (-not (Test-Path $exe)) { throw "qemu-ga not found at $exe (apt-get install qemu-guest-agent)" }
            [Diagnostics.ProcessStartInfo]::new($exe)
        }
        'Ours' {
            $dll = Get-OurAgentPath
            if (-not $dll) { throw 'our agent is not built (src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll)' }
            $p = [Diagnostics.ProcessStartInfo]::new('dotnet')
            $p.ArgumentList.Add($dll)
            $p
        }
        'Hostile' {
            $dll = Get-HostileAgentPath
            if (-not (Test-Path $dll)) { throw "the hostile agent is not built: $dll (dotnet build tests/QemuGuest.HostileAgent -c Release)" }
            $modeFile = Join-Path $dir 'mode'
            Set-Content -Path $modeFile -Value $Mode
            $p = [Diagnostics.ProcessStartInfo]::new('dotnet')
            $p.ArgumentList.Add($dll)
            $p
        }
    }
    $arguments = if ($Kind -eq 'Hostile') {
        @('--socket', $socketPath, '--mode', $Mode, '--mode-file', $modeFile)
    }
    else {
        @('-m', 'unix-listen', '-p', $socketPath, '-t', $state, '-l', $log)
    }
    foreach ($a in $arguments + $ExtraArguments) { $psi.ArgumentList.Add($a) }
    if ($PrivateFolder) {
        if (-not (Test-Path -PathType Container $PrivateFolder)) { throw "-PrivateFolder ${PrivateFolder}: no such folder to mount over" }
        # unshare and sh exec into the agent, so the pid stays the agent's own and
        # Stop-LocalAgent ends it (and with it the namespace) as before.
        $inner = $psi
        $psi = [Diagnostics.ProcessStartInfo]::new('unshare')
        foreach ($a in @('--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount -t tmpfs -o size=64m,mode=0755 qemuguest-private "$0" && exec "$@"', $PrivateFolder, $inner.FileName) + @($inner.ArgumentList)) {
            $psi.ArgumentList.Add($a)
        }
    }
    if ($WithoutFileCapabilities -and (& id -u) -eq '0') {
        $inner = $psi
        $psi = [Diagnostics.ProcessStartInfo]::new('setpriv')
        foreach ($a in @('--bounding-set=-dac_override,-dac_read_search', '--', $inner.FileName) + @($inner.ArgumentList)) { $psi.ArgumentList.Add($a) }
    }
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.UseShellExecute = $false
    $agent = [pscustomobject]@{
        Kind             = $Kind
        Process          = $null
        Pid              = 0
        Socket           = $socketPath
        ConnectionString = "unix:$socketPath"
        Directory        = $dir
        LogFile          = $log
        ModeFile         = $modeFile
        StartInfo        = $psi
    }
    Start-AgentProcess $agent
    $agent
}

function Start-WineAgent {
    <#
    .SYNOPSIS
        Our Windows agent under Wine on isa-serial (COM1 through a pty to a unix socket), through
        the hostile agent program's --wine mode (tests/QemuGuest.HostileAgent/WineAgent.cs, the
        same fixture as the xunit Wine row). Needs $env:QEMUGUEST_WINE_AGENT (the win-x64
        self-contained publish; build.ps1 Test's Wine row sets it) and Wine. Waits (at most 6
        minutes: a fresh prefix and a JIT start under CI load) until the agent answers a sync.
    #>
    param([string[]] $ExtraArguments = @())
    $dll = Get-HostileAgentPath
    if (-not (Test-Path $dll)) { throw "the hostile agent is not built: $dll (dotnet build tests/QemuGuest.HostileAgent -c Release)" }
    $psi = [Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in @($dll, '--wine') + $ExtraArguments) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    $psi.UseShellExecute = $false
    $proc = [Diagnostics.Process]::Start($psi)
    $errors = $proc.StandardError.ReadToEndAsync()
    $line = $proc.StandardOutput.ReadLineAsync()
    if (-not $line.Wait([TimeSpan]::FromMinutes(6)) -or $null -eq $line.Result -or $line.Result -notmatch '^listening (.+)$') {
        if (-not $proc.HasExited) { $proc.Kill($true); $null = $proc.WaitForExit(10000) }
        $said = if ($line.IsCompleted) { $line.Result } else { '(nothing within 6 minutes)' }
        throw "the Wine agent did not start: $said $(if ($errors.Wait(10000)) { $errors.Result })"
    }
    $socket = $Matches[1]
    [pscustomobject]@{
        Kind             = 'Wine'
        Process          = $proc
        Pid              = $proc.Id
        Socket           = $socket
        ConnectionString = "unix:$socket"
        Directory        = Split-Path $socket -Parent
        LogFile          = $null
        ModeFile         = $null
        StartInfo        = $psi
    }
}

# Starts the agent's process and waits (at most 20 s) for its socket; sets Process and Pid.
function Start-AgentProcess($Agent) {
    # A fresh ProcessStartInfo per start. Restarting from the first start's object made the
    # restart cases of Hardening.Tests.ps1 fail in 4 runs of 4 (the agent answered oddly or not
    # at all after the restart); a fresh one passes, as the suite's own restart code always did.
    $psi = [Diagnostics.ProcessStartInfo]::new($Agent.StartInfo.FileName)
    foreach ($a in $Agent.StartInfo.ArgumentList) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.UseShellExecute = $false
    $proc = [Diagnostics.Process]::Start($psi)
    $deadline = [DateTime]::UtcNow.AddSeconds(20)
    while (-not (Test-Path $Agent.Socket)) {
        if ($proc.HasExited) { throw "$($Agent.Kind) agent exited with $($proc.ExitCode): $($proc.StandardError.ReadToEnd())" }
        if ([DateTime]::UtcNow -gt $deadline) { $proc.Kill(); throw "$($Agent.Kind) agent did not create $($Agent.Socket) within 20 s" }
        Start-Sleep -Milliseconds 50
    }
    $Agent.Process = $proc
    $Agent.Pid = $proc.Id
}

function Restart-LocalAgent {
    <#
    .SYNOPSIS
        The same agent again on the same socket and state folder: what a guest reboot looks like
        from the host (the chardev closes, then a new agent answers on it).
    #>
    param([Parameter(Mandatory, ValueFromPipeline)] $Agent)
    process {
        if (-not $Agent.Process.HasExited) { $Agent.Process.Kill($true); $null = $Agent.Process.WaitForExit(10000) }
        Remove-Item -Force $Agent.Socket -ErrorAction SilentlyContinue
        Start-AgentProcess $Agent
    }
}

function Stop-LocalAgent {
    param([Parameter(ValueFromPipeline)] $Agent)
    process {
        if ($null -eq $Agent) { return }
        if ($Agent.Kind -eq 'Wine' -and -not $Agent.Process.HasExited) {
            # Closing its input lets the launcher stop wineserver, socat and the prefix it made;
            # killing it would leave them behind.
            $Agent.Process.StandardInput.Close()
            $null = $Agent.Process.WaitForExit(60000)
        }
        try {
            if (-not $Agent.Process.HasExited) {
                $Agent.Process.Kill($true)
                $null = $Agent.Process.WaitForExit(10000)
            }
        }
        finally {
            Remove-Item -Recurse -Force $Agent.Directory -ErrorAction SilentlyContinue
        }
    }
}

function Start-LocalRelay {
    <#
    .SYNOPSIS
        Starts the real relay (src/QemuGuest.Relay, built) for VMs named after local agents, in a
        fresh 0700 runtime folder, and waits (at most 30 s) for every VM's endpoint.
    .DESCRIPTION
        -Vms maps a VM name to an agent (Start-LocalAgent's object). Point
        $env:QEMUGUEST_RELAY_DIR at the result's RuntimeDirectory and -VMName <name> reaches
        that agent through the relay, as on a hypervisor host.
    #>
    param([Parameter(Mandatory)] [System.Collections.IDictionary] $Vms)
    $root = Split-Path $PSScriptRoot -Parent
    $dll = Join-Path $root 'src/QemuGuest.Relay/bin/Release/net10.0/qemuguest-relay.dll'
    if (-not (Test-Path $dll)) { throw "the relay is not built ($dll)" }
    $dir = Join-Path ([IO.Path]::GetTempPath()) ('qg-relay-' + [guid]::NewGuid().ToString('n').Substring(0, 12))
    $null = New-Item -ItemType Directory -Path $dir
    $runtime = Join-Path $dir 'run'
    $arguments = @($dll, "--Relay:RuntimeDirectory=$runtime") + @($Vms.Keys | ForEach-Object { "--Relay:Vms:${_}:Agent=$($Vms[$_].Socket)" })
    $proc = Start-Process dotnet -PassThru -ArgumentList $arguments `
        -RedirectStandardOutput (Join-Path $dir 'relay.out') -RedirectStandardError (Join-Path $dir 'relay.err')
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    foreach ($vm in $Vms.Keys) {
        while (-not (Test-Path (Join-Path $runtime "$vm.sock"))) {
            if ($proc.HasExited -or [DateTime]::UtcNow -gt $deadline) {
                if (-not $proc.HasExited) { $proc.Kill($true) }
                Remove-Item -Recurse -Force $dir -ErrorAction SilentlyContinue
                throw "the relay did not open $runtime/$vm.sock within 30 s"
            }
            Start-Sleep -Milliseconds 100
        }
    }
    [pscustomobject]@{ Process = $proc; Pid = $proc.Id; RuntimeDirectory = $runtime; Directory = $dir; LogFile = Join-Path $dir 'relay.out' }
}

function Stop-LocalRelay {
    param([Parameter(ValueFromPipeline)] $Relay)
    process {
        if ($null -eq $Relay) { return }
        try {
            if (-not $Relay.Process.HasExited) {
                $Relay.Process.Kill($true)
                $null = $Relay.Process.WaitForExit(10000)
            }
        }
        finally {
            Remove-Item -Recurse -Force $Relay.Directory -ErrorAction SilentlyContinue
        }
    }
}

Export-ModuleMember -Function Start-LocalAgent, Restart-LocalAgent, Stop-LocalAgent, Start-LocalRelay, Stop-LocalRelay, Get-OurAgentPath
