# The module inside a PowerShell remoting session: pwsh SSH remoting to localhost. A private
# sshd (own config, host key, port and authorized key in a temp dir; key-based root login;
# Subsystem powershell = this pwsh) is started for the suite and stopped by its pid. The remote
# session imports out/QemuGuest and talks to a local stock qemu-ga.

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    $script:Sshd = $null
    $script:SkipReason = $null
    $sshdExe = '/usr/sbin/sshd'
    if (-not $IsLinux) { $script:SkipReason = 'the SSH remoting test runs on Linux only'; return }
    if (-not (Test-Path $sshdExe)) { $script:SkipReason = 'sshd not installed (apt-get install openssh-server)'; return }
    if ((& id -u) -ne '0') { $script:SkipReason = 'needs root (key-based root login to a private sshd)'; return }

    $script:Dir = Join-Path ([IO.Path]::GetTempPath()) ('qg-sshd-' + [guid]::NewGuid().ToString('n').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path $Dir
    & ssh-keygen -q -t ed25519 -N '' -f (Join-Path $Dir 'host_ed25519') | Out-Null
    & ssh-keygen -q -t ed25519 -N '' -f (Join-Path $Dir 'client_ed25519') | Out-Null
    Copy-Item (Join-Path $Dir 'client_ed25519.pub') (Join-Path $Dir 'authorized_keys')
    & chmod 600 (Join-Path $Dir 'client_ed25519') (Join-Path $Dir 'host_ed25519') (Join-Path $Dir 'authorized_keys')

    # A free port: 2222 if it is free, else any.
    $script:Port = 2222
    try { $l = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, $Port); $l.Start(); $l.Stop() }
    catch { $l = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0); $l.Start(); $script:Port = $l.LocalEndpoint.Port; $l.Stop() }

    $pwsh = Join-Path $PSHOME 'pwsh'
    $config = Join-Path $Dir 'sshd_config'
    @"
Port $Port
ListenAddress 127.0.0.1
HostKey $Dir/host_ed25519
PidFile $Dir/sshd.pid
AuthorizedKeysFile $Dir/authorized_keys
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

    $psi = [Diagnostics.ProcessStartInfo]::new($sshdExe)
    foreach ($a in '-D', '-e', '-f', $config) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardOutput = $true
    $psi.UseShellExecute = $false
    $script:Sshd = [Diagnostics.Process]::Start($psi)
    $script:SshdLog = [Text.StringBuilder]::new()
    $null = Register-ObjectEvent -InputObject $Sshd -EventName ErrorDataReceived -Action { if ($EventArgs.Data) { $null = $Event.MessageData.AppendLine($EventArgs.Data) } } -MessageData $SshdLog
    $Sshd.BeginErrorReadLine()
    $deadline = [DateTime]::UtcNow.AddSeconds(15)
    while ($true) {
        if ($Sshd.HasExited) { throw "sshd exited with $($Sshd.ExitCode): $SshdLog" }
        try { $c = [Net.Sockets.TcpClient]::new('127.0.0.1', $Port); $c.Dispose(); break }
        catch { if ([DateTime]::UtcNow -gt $deadline) { throw "sshd did not listen on $Port within 15 s: $SshdLog" }; Start-Sleep -Milliseconds 100 }
    }
    $script:Agent = Start-LocalAgent -Kind Stock
    $script:Remote = @{
        HostName    = 'localhost'
        Port        = $Port
        UserName    = 'root'
        KeyFilePath = (Join-Path $Dir 'client_ed25519')
        Options     = @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = '/dev/null'; LogLevel = 'ERROR' }
    }
}

AfterAll {
    if ($script:Agent) { $script:Agent | Stop-LocalAgent }
    if ($script:Sshd) {
        if (-not $Sshd.HasExited) { $Sshd.Kill(); $null = $Sshd.WaitForExit(10000) }
    }
    if ($script:Dir) { Remove-Item -Recurse -Force $Dir -ErrorAction SilentlyContinue }
}

Describe 'QemuGuest over pwsh SSH remoting' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
    }

    It 'imports the module remotely and reads the guest through it' {
        $module = $env:QEMUGUEST_MODULE_PATH
        $cs = $Agent.ConnectionString
        $r = Invoke-Command @Remote -ScriptBlock {
            Import-Module $using:module -ErrorAction Stop
            $s = New-VMGuestSession -ConnectionString $using:cs -Name remote -ErrorAction Stop
            try {
                $os = Get-VMGuestOSInfo -Session $s
                $h = Get-VMGuestHostName -Session $s
                [pscustomobject]@{
                    Kernel    = $os.KernelRelease
                    VMName    = $os.VMName
                    Host      = $h.HostName
                    Cmdlets   = @(Get-Command -Module QemuGuest).Count
                    Synopsis  = (Get-Help Get-VMGuestOSInfo).Synopsis
                    WhatIfErr = @(Stop-VMGuest -Session $s -WhatIf 2>&1).Count
                }
            }
            finally { $s | Remove-VMGuestSession -Confirm:$false }
        }
        $r.Kernel | Should -Be (uname -r)
        $r.VMName | Should -Be 'remote'
        $r.Host | Should -Be ([System.Net.Dns]::GetHostName())
        $r.Cmdlets | Should -BeGreaterThan 55
        $r.Synopsis | Should -Not -BeNullOrEmpty
        $r.WhatIfErr | Should -Be 0
    }

    It 'returns deserialized records with their properties' {
        $module = $env:QEMUGUEST_MODULE_PATH
        $cs = $Agent.ConnectionString
        $ifs = Invoke-Command @Remote -ScriptBlock {
            Import-Module $using:module -ErrorAction Stop
            $s = New-VMGuestSession -ConnectionString $using:cs
            try { Get-VMGuestNetworkInterface -Session $s } finally { $s | Remove-VMGuestSession -Confirm:$false }
        }
        ($ifs | Where-Object Name -EQ 'lo').PSObject.TypeNames | Should -Contain 'Deserialized.QemuGuest.Protocol.Qga.GuestNetworkInterface'
    }
}
