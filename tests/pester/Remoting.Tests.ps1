# The module inside a PowerShell remoting session: pwsh SSH remoting to localhost. A private
# sshd (tools/PrivateSshd.psm1) is started for the suite and stopped by its pid. The remote
# session imports out/QemuGuest and talks to a local stock qemu-ga.

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/PrivateSshd.psm1') -Force
    $script:Sshd = $null
    $script:SkipReason = Get-PrivateSshdUnavailableReason
    if ($SkipReason) { return }
    $script:Sshd = Start-PrivateSshd
    $script:Agent = Start-LocalAgent -Kind Stock
    $script:Remote = $Sshd.Remote
}

AfterAll {
    if ($script:Agent) { $script:Agent | Stop-LocalAgent }
    $script:Sshd | Stop-PrivateSshd
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
