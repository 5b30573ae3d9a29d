# Issue 15 item 7 from the cmdlets' side: -VMName follows $env:QEMUGUEST_RELAY_DIR/<vm>.sock,
# and whoever can replace that socket (a link, a foreign owner, a folder others may write)
# would receive every command meant for the VM and answer as it likes. An impostor agent (the
# hostile agent program, answering host name 'fake') is planted in each such place for real;
# the cmdlets must refuse with UntrustedPath naming the path, and never reach it.
# Runs as root: chown to 'nobody' plants the foreign owner.

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    $script:T = Join-Path '/tmp' ('qg-trust-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
    $null = New-Item -ItemType Directory -Path $T
    chmod 0700 $T
    $script:Agents = [Collections.Generic.List[object]]::new()
    $script:SavedRelayDir = $env:QEMUGUEST_RELAY_DIR

    function Start-Impostor([string] $Socket, [string] $Mode = 'normal') {
        $script:Agents.Add((Start-LocalAgent -Kind Hostile -Socket $Socket -Mode $Mode))
    }

    function New-RelayDir([string] $Name) {
        $d = Join-Path $T $Name
        $null = New-Item -ItemType Directory -Path $d
        chmod 0700 $d
        $d
    }
}

AfterAll {
    $env:QEMUGUEST_RELAY_DIR = $script:SavedRelayDir
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    $script:Agents | Stop-LocalAgent
    Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
}

Describe 'The relay endpoint -VMName follows must be trusted' {
    It 'a trusted layout is used (the control case)' {
        $d = New-RelayDir 'good'
        Start-Impostor (Join-Path $d 'vm1.sock')
        $env:QEMUGUEST_RELAY_DIR = $d
        (Get-VMGuestHostName -VMName vm1 -TimeoutSec 5).HostName | Should -Be 'fake'
    }

    It '<Case>: UntrustedPath naming <Offender>, and the impostor is never asked' -ForEach @(
        @{ Case = 'relay folder owned by another user'; Setup = { param($d) chown nobody $d }; Offender = 'dir'; Reason = 'owned by nobody' }
        @{ Case = 'relay folder writable by others'; Setup = { param($d) chmod 0777 $d }; Offender = 'dir'; Reason = 'mode 0777' }
        @{ Case = 'socket owned by another user'; Setup = { param($d) chown nobody (Join-Path $d 'vm1.sock') }; Offender = 'sock'; Reason = 'owned by nobody' }
        @{ Case = 'relay folder is a link'; Setup = { param($d) $null = New-Item -ItemType SymbolicLink -Path "$d.link" -Target $d }; Link = $true; Offender = 'link'; Reason = 'symbolic link' }
    ) {
        $d = New-RelayDir ([guid]::NewGuid().ToString('n').Substring(0, 6))
        Start-Impostor (Join-Path $d 'vm1.sock')
        & $Setup $d
        $env:QEMUGUEST_RELAY_DIR = if ($Link) { "$d.link" } else { $d }
        $expected = switch ($Offender) { 'dir' { $d } 'sock' { Join-Path $d 'vm1.sock' } 'link' { "$d.link" } }

        $r = Get-VMGuestHostName -VMName vm1 -TimeoutSec 5 -ErrorVariable err -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'UntrustedPath,*'
        $err[0].CategoryInfo.Category | Should -Be 'SecurityError'
        $err[0].Exception.Message | Should -BeLike "*${expected}: *$Reason*"
        $err[0].TargetObject | Should -Be $expected

        $null = New-VMGuestSession -VMName vm1 -ConnectTimeoutSec 5 -ErrorVariable err2 -ErrorAction SilentlyContinue
        $err2[0].FullyQualifiedErrorId | Should -BeLike 'UntrustedPath,*'
        Get-VMGuestSession | Should -BeNullOrEmpty
    }

    It 'a socket that is a link to a trusted agent is still refused' {
        $d = New-RelayDir 'linksock'
        $real = Join-Path $T 'real-vm.sock'
        Start-Impostor $real
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $d 'vm1.sock') -Target $real
        $env:QEMUGUEST_RELAY_DIR = $d
        $null = Get-VMGuestHostName -VMName vm1 -TimeoutSec 5 -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'UntrustedPath,*'
        $err[0].Exception.Message | Should -BeLike '*vm1.sock: is a symbolic link*'
    }
}

# Issue 15 item 8: a guest's strings reach the console through the module's views (and the
# catch-all view) escaped; the objects keep the raw values. The hostile agent's 'escapes' mode
# fills host name, OS info, users, exec output and an error text with OSC 0 (title), OSC 52
# (clipboard), CSI clear-screen, C1 CSI, DEL and a bidi override.
Describe 'Guest text reaches the console escaped' {
    BeforeAll {
        $script:Esc = [char]0x1B
        $sock = Join-Path $T 'escapes.sock'
        Start-Impostor $sock 'escapes'
        $script:E = New-VMGuestSession -ConnectionString "unix:$sock" -Name escapes -ConnectTimeoutSec 5
        function Assert-Clean([string] $Text) {
            $Text | Should -Not -BeNullOrEmpty
            $Text.IndexOf($Esc) | Should -Be -1 -Because 'no ESC byte may reach the terminal'
            $Text.IndexOf([char]0x9B) | Should -Be -1
            $Text.IndexOf([char]0x07) | Should -Be -1
            $Text.IndexOf([char]0x202E) | Should -Be -1
        }
    }

    It 'host name (a type without a view of its own: the catch-all view)' {
        $r = Get-VMGuestHostName -Session $E -TimeoutSec 5
        $r.HostName | Should -BeLike "web01$Esc]0;pwned-title*"
        $text = $r | Out-String
        Assert-Clean $text
        $text | Should -BeLike '*web01\u001b]0;pwned-title\u0007\u001b]52;c;cm0gLXJmIH4K\u0007*'
        # (An explicit Format-List/Format-Table of a type with no view of its own builds its
        # default layout from raw values: PowerShell offers no catch-all for those shapes.)
    }

    It 'OS info, table and list views' {
        $r = Get-VMGuestOSInfo -Session $E -TimeoutSec 5
        $r.PrettyName | Should -BeLike "web01$Esc*"
        Assert-Clean ($r | Out-String)
        Assert-Clean ($r | Format-List | Out-String)
    }

    It 'logged-in users' {
        $r = Get-VMGuestUser -Session $E -TimeoutSec 5
        Assert-Clean ($r | Out-String)
    }

    It 'program output from Invoke-VMGuestCommand: lines kept, escapes shown' {
        $r = Invoke-VMGuestCommand -Session $E -FilePath /bin/true -TimeoutSec 5
        $r.StdOut | Should -BeLike "line one`nweb01$Esc]0;*"
        $text = $r | Out-String
        Assert-Clean $text
        $text | Should -Match 'line one'
    }

    It 'exec status straight from the generated cmdlet' {
        $r = Get-VMGuestExecStatus -Session $E -ProcessId 4242 -TimeoutSec 5
        Assert-Clean ($r | Out-String)
        Assert-Clean ($r | Format-List | Out-String)
    }

    It 'an error text from the guest' {
        $null = Open-VMGuestFile -Session $E -Path /etc/x -TimeoutSec 5 -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be 1
        Assert-Clean $err[0].Exception.Message
        Assert-Clean ($err[0] | Out-String)
        $err[0].Exception.Description | Should -BeLike "*$Esc]0;pwned-title*"
    }
}
