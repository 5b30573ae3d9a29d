# Local agents for the demo and the Pester suites: Debian's qemu-ga, or ours, in unix-listen
# mode on a temporary socket, standing in for a VM's chardev. Every wait is bounded; agents are
# stopped by their own pid.

Set-StrictMode -Version 3.0

function Get-OurAgentPath {
    $root = Split-Path $PSScriptRoot -Parent
    $dll = Join-Path $root 'src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll'
    if (Test-Path $dll) { return $dll }
    return $null
}

function Start-LocalAgent {
    <#
    .SYNOPSIS
        Starts an agent on a fresh temporary socket and waits (at most 15 s) until it accepts.
    #>
    param(
        [ValidateSet('Stock', 'Ours')] [string] $Kind = 'Stock',
        [string[]] $ExtraArguments = @(),
        # A folder the agent sees as an empty private tmpfs (a mount namespace of its own; Linux,
        # root): what the "guest" writes there never reaches the host's folder of that name, so
        # documentation can show real guest paths (/srv/app) and still run on a build machine.
        [string] $PrivateFolder
    )
    $dir = Join-Path ([IO.Path]::GetTempPath()) ("qg-agent-" + [guid]::NewGuid().ToString('n').Substring(0, 12))
    $null = New-Item -ItemType Directory -Path $dir
    $socket = Join-Path $dir 'qga.sock'
    $state = Join-Path $dir 'state'
    $null = New-Item -ItemType Directory -Path $state
    $log = Join-Path $dir 'agent.log'

    $psi = if ($Kind -eq 'Stock') {
        $exe = '/usr/sbin/qemu-ga'
        if (-not (Test-Path $exe)) { throw "qemu-ga not found at $exe (apt-get install qemu-guest-agent)" }
        [Diagnostics.ProcessStartInfo]::new($exe)
    }
    else {
        $dll = Get-OurAgentPath
        if (-not $dll) { throw 'our agent is not built (src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll)' }
        $p = [Diagnostics.ProcessStartInfo]::new('dotnet')
        $p.ArgumentList.Add($dll)
        $p
    }
    foreach ($a in @('-m', 'unix-listen', '-p', $socket, '-t', $state, '-l', $log) + $ExtraArguments) { $psi.ArgumentList.Add($a) }
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
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.UseShellExecute = $false
    $proc = [Diagnostics.Process]::Start($psi)

    $deadline = [DateTime]::UtcNow.AddSeconds(15)
    while (-not (Test-Path $socket)) {
        if ($proc.HasExited) { throw "$Kind agent exited with $($proc.ExitCode): $($proc.StandardError.ReadToEnd())" }
        if ([DateTime]::UtcNow -gt $deadline) { $proc.Kill(); throw "$Kind agent did not create $socket within 15 s" }
        Start-Sleep -Milliseconds 50
    }
    [pscustomobject]@{
        Kind             = $Kind
        Process          = $proc
        Pid              = $proc.Id
        Socket           = $socket
        ConnectionString = "unix:$socket"
        Directory        = $dir
        LogFile          = $log
    }
}

function Stop-LocalAgent {
    param([Parameter(ValueFromPipeline)] $Agent)
    process {
        if ($null -eq $Agent) { return }
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

Export-ModuleMember -Function Start-LocalAgent, Stop-LocalAgent, Start-LocalRelay, Stop-LocalRelay, Get-OurAgentPath
