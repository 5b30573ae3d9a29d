# A private sshd for pwsh SSH remoting to localhost (the Remoting suite and the PowerShell Direct
# benchmark): its own config, host key, port and authorized key in a temporary directory,
# key-based root login, Subsystem powershell = this pwsh. Started and stopped by its own pid;
# every wait is bounded.

Set-StrictMode -Version 3.0

function Get-PrivateSshdUnavailableReason {
    <# Why this machine cannot run the private sshd, or $null when it can. #>
    if (-not $IsLinux) { return 'the private sshd runs on Linux only' }
    if (-not (Test-Path '/usr/sbin/sshd')) { return 'sshd not installed (apt-get install openssh-server)' }
    if ((& id -u) -ne '0') { return 'needs root (key-based root login to a private sshd)' }
    $null
}

function Start-PrivateSshd {
    <#
    .SYNOPSIS
        Starts the private sshd and waits (at most 15 s) until it listens. Returns Process, Port,
        Directory, Log and Remote: the splat for New-PSSession / Invoke-Command (-HostName ...).
    #>
    $reason = Get-PrivateSshdUnavailableReason
    if ($reason) { throw $reason }
    $dir = Join-Path ([IO.Path]::GetTempPath()) ('qg-sshd-' + [guid]::NewGuid().ToString('n').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path $dir
    & ssh-keygen -q -t ed25519 -N '' -f (Join-Path $dir 'host_ed25519') | Out-Null
    & ssh-keygen -q -t ed25519 -N '' -f (Join-Path $dir 'client_ed25519') | Out-Null
    Copy-Item (Join-Path $dir 'client_ed25519.pub') (Join-Path $dir 'authorized_keys')
    & chmod 600 (Join-Path $dir 'client_ed25519') (Join-Path $dir 'host_ed25519') (Join-Path $dir 'authorized_keys')

    # A free port: 2222 if it is free, else any.
    $port = 2222
    try { $l = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, $port); $l.Start(); $l.Stop() }
    catch { $l = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0); $l.Start(); $port = $l.LocalEndpoint.Port; $l.Stop() }

    $pwsh = Join-Path $PSHOME 'pwsh'
    $config = Join-Path $dir 'sshd_config'
    @"
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem powershell $pwsh -sshs -NoLogo -NoProfile
"@ | Set-Content -Path $config
    # sshd insists on its privilege separation directory.
    if (-not (Test-Path '/run/sshd')) { $null = New-Item -ItemType Directory -Path '/run/sshd' }

    $psi = [Diagnostics.ProcessStartInfo]::new('/usr/sbin/sshd')
    foreach ($a in '-D', '-e', '-f', $config) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardOutput = $true
    $psi.UseShellExecute = $false
    $sshd = [Diagnostics.Process]::Start($psi)
    $log = [Text.StringBuilder]::new()
    $null = Register-ObjectEvent -InputObject $sshd -EventName ErrorDataReceived -Action { if ($EventArgs.Data) { $null = $Event.MessageData.AppendLine($EventArgs.Data) } } -MessageData $log
    $sshd.BeginErrorReadLine()
    $deadline = [DateTime]::UtcNow.AddSeconds(15)
    while ($true) {
        if ($sshd.HasExited) { throw "sshd exited with $($sshd.ExitCode): $log" }
        try { $c = [Net.Sockets.TcpClient]::new('127.0.0.1', $port); $c.Dispose(); break }
        catch {
            if ([DateTime]::UtcNow -gt $deadline) { $sshd.Kill(); throw "sshd did not listen on $port within 15 s: $log" }
            Start-Sleep -Milliseconds 100
        }
    }
    [pscustomobject]@{
        Process   = $sshd
        Port      = $port
        Directory = $dir
        Log       = $log
        Remote    = @{
            HostName    = 'localhost'
            Port        = $port
            UserName    = 'root'
            KeyFilePath = (Join-Path $dir 'client_ed25519')
            Options     = @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = '/dev/null'; LogLevel = 'ERROR' }
        }
    }
}

function Stop-PrivateSshd {
    param([Parameter(ValueFromPipeline)] $Sshd)
    process {
        if ($null -eq $Sshd) { return }
        if (-not $Sshd.Process.HasExited) { $Sshd.Process.Kill(); $null = $Sshd.Process.WaitForExit(10000) }
        Remove-Item -Recurse -Force $Sshd.Directory -ErrorAction SilentlyContinue
    }
}

Export-ModuleMember -Function Get-PrivateSshdUnavailableReason, Start-PrivateSshd, Stop-PrivateSshd
