# Sessions and the generic RPC cmdlet against a real agent (Debian's qemu-ga).

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    $script:Agent = Start-LocalAgent -Kind Stock
}

AfterAll {
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    $script:Agent | Stop-LocalAgent
}

Describe 'New-VMGuestSession' {
    AfterEach {
        # A unix-listen agent (like a chardev socket) serves one client at a time.
        Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    }

    It 'opens a session to a unix socket and lists it' {
        $s = New-VMGuestSession -ConnectionString $Agent.ConnectionString -Name 'pester-stock'
        $s.State | Should -Be 'Opened'
        $s.Name | Should -Be 'pester-stock'
        (Get-VMGuestSession -Name 'pester-*').Id | Should -Contain $s.Id
        (Get-VMGuestSession -Id $s.Id).Name | Should -Be 'pester-stock'
    }

    It 'reports a missing socket as a connection error with its ErrorId' {
        $err = $null
        $null = New-VMGuestSession -ConnectionString 'unix:/nonexistent/qga.sock' -ConnectTimeoutSec 2 -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'AgentDisconnected,*'
        $err[0].CategoryInfo.Category | Should -Be 'ConnectionError'
        $err[0].TargetObject | Should -Be 'unix:/nonexistent/qga.sock'
    }

    It 'rejects a malformed connection string with InvalidConnectionString' {
        $err = $null
        $null = New-VMGuestSession -ConnectionString 'tcp:no-port-here' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidConnectionString,*'
        $err[0].Exception.Message | Should -BeLike '*tcp:no-port-here*'
    }

    It 'takes VM names from the pipeline by value, and objects by their VMName property' {
        $null = New-VMGuestSession -ConnectionString $Agent.ConnectionString -Name 'pipe-vm'
        $times = 'pipe-vm', 'pipe-vm' | Get-VMGuestTime
        @($times).Count | Should -Be 2
        $times | ForEach-Object { $_.VMName | Should -Be 'pipe-vm' }
        # A piped object is not taken as a VM name by its text: its properties bind.
        $handle = Open-VMGuestFile -VMName 'pipe-vm' -Path (Join-Path $Agent.Directory 'pipe.txt') -Mode w
        $handle | Close-VMGuestFile
        $err = $null
        # Not Test-VMGuestAgent: a Test- cmdlet answers $false instead of an error.
        'no-such-vm' | Get-VMGuestHostName -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VMNotFound,*'
        $err[0].TargetObject | Should -Be 'no-such-vm'
    }

    It 'closes sessions with Remove-VMGuestSession' {
        $s = New-VMGuestSession -ConnectionString $Agent.ConnectionString -Name 'pester-close'
        $s | Remove-VMGuestSession -Confirm:$false
        $s.State | Should -Be 'Closed'
        Get-VMGuestSession -Name 'pester-close' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'Invoke-VMGuestRpc' {
    BeforeAll {
        $script:S = New-VMGuestSession -ConnectionString $Agent.ConnectionString -Name 'pester-rpc'
    }

    AfterAll {
        $script:S | Remove-VMGuestSession -Confirm:$false
    }

    It 'runs guest-info and returns the command list' {
        $info = Invoke-VMGuestRpc -Session $S -Command 'guest-info'
        $info.version | Should -Match '^\d+\.\d+'
        $info.supported_commands.name | Should -Contain 'guest-ping'
        $info.VMName | Should -Be 'pester-rpc'
    }

    It 'passes arguments and round-trips a file through guest-file-*' {
        $path = Join-Path $Agent.Directory 'rpc.txt'
        $h = Invoke-VMGuestRpc -Session $S guest-file-open @{ path = $path; mode = 'w' }
        $h | Should -BeGreaterOrEqual 1000
        $w = Invoke-VMGuestRpc -Session $S guest-file-write @{ handle = $h; 'buf-b64' = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes('héllo')) }
        $w.count | Should -Be 6
        $null = Invoke-VMGuestRpc -Session $S guest-file-close @{ handle = $h }
        [IO.File]::ReadAllText($path) | Should -Be 'héllo'
    }

    It 'turns an agent error into AgentGenericError with the agent''s text' {
        $err = $null
        $null = Invoke-VMGuestRpc -Session $S guest-file-open @{ path = '/nonexistent/dir/x'; mode = 'r' } -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'AgentGenericError,*'
        $err[0].Exception.Message | Should -BeLike '*No such file or directory*'
        $err[0].Exception.ErrorClass | Should -Be 'GenericError'
    }

    It 'turns an unknown command into AgentCommandNotFound' {
        $err = $null
        $null = Invoke-VMGuestRpc -Session $S guest-no-such-thing -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'AgentCommandNotFound,*'
        $err[0].CategoryInfo.Category | Should -Be 'NotImplemented'
    }

    It 'honours -WhatIf (nothing reaches the agent)' {
        $path = Join-Path $Agent.Directory 'whatif.txt'
        Invoke-VMGuestRpc -Session $S guest-file-open @{ path = $path; mode = 'w' } -WhatIf
        Test-Path $path | Should -BeFalse
    }

    It 'works from ForEach-Object -Parallel with a shared session' {
        $results = 1..8 | ForEach-Object -Parallel {
            Invoke-VMGuestRpc -Session $using:S guest-get-time
        } -ThrottleLimit 8
        @($results).Count | Should -Be 8
        $results | ForEach-Object { $_ | Should -BeGreaterThan 1600000000000000000 }
    }
}
