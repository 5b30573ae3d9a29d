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
        [string[]] $ExtraArguments = @()
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

Export-ModuleMember -Function Start-LocalAgent, Stop-LocalAgent, Get-OurAgentPath
